"""What the public side (GET /random, /api/public/list, /browse/) may show anyone: the same files
/file/ would serve them, in the folders staff opened to it.

A Blocked file is never shown; in whitelist mode only Allowed (White) ones are, since /file/
refuses the others. Folders come from the site settings (imgbed_site.runtime), each entry with
its subfolders; none set (or "*") opens every folder.
"""

from django.db.models import Q

from library import listing
from uploads.models import StoredFile


def servable(rules) -> Q:
    """The files /file/ serves under these rules (the referer rule aside: it depends on the page)."""
    if rules.whitelist_mode:
        return Q(list_type=StoredFile.ListType.WHITE)
    return ~Q(list_type=StoredFile.ListType.BLOCK)


def limit(query, rules):
    """Narrow a listing (library.listing.ListQuery) to the servable files. Blocked files are
    few: they are counted apart (ListQuery.hidden), so that the counts still come from the
    indexes; in whitelist mode the Allowed ones are what is left, a filter like any other."""
    if rules.whitelist_mode:
        query.where.append(servable(rules))
    else:
        query.hidden = Q(list_type=StoredFile.ListType.BLOCK)
    return query


def every_folder(entries) -> bool:
    """Whether a folder setting (Runtime.random_folders, .public_browse_folders) opens them all."""
    return not entries or "*" in entries


def in_tree(folder: str) -> Q:
    """Files in the folder ("a/b") and in every folder below it; every file for "" (the top)."""
    if not folder:
        return Q()
    return Q(folder=folder) | listing.below(folder + "/")


def in_any(entries) -> Q:
    """Files in any of the folders of a folder setting, each with its subfolders."""
    if every_folder(entries):
        return Q()
    match = Q(pk__in=[])
    for entry in entries:
        match |= in_tree(entry)
    return match
