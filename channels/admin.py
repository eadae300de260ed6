"""The admin's channel pages: the one list of every channel (channels.kind_admin), then each
kind's own pages from its package (channels.kinds)."""

from importlib import import_module

from channels import (
    kind_admin,  # noqa: F401
    kinds,
)

for _kind in kinds.KINDS.values():
    import_module(f"{_kind.package}.admin")
