"""Backing the library up as one JSON file and restoring it (export_library, import_library, the admin's download)."""
