"""The upload's multipart body, parsed as Django does but for two things.

A file whose name is nothing but dots or separators (`..`, `.`, `a/`) is
taken, named `file`: Django drops such a part as if no file had been sent, and
the person would be told to send one.

A part's headers may be up to 16 KiB, not 1 KiB: a name of 1,000 characters
(3,000 bytes in Chinese, three times that percent-encoded in `filename*`) is
trimmed like any other, not refused as a broken body. The bound is Django's
module-wide one, so forms elsewhere on the site get it too.
"""

from django.http import multipartparser
from django.http.multipartparser import MultiPartParser

MAX_PART_HEADERS = 16 * 1024
multipartparser.MAX_TOTAL_HEADER_SIZE = max(multipartparser.MAX_TOTAL_HEADER_SIZE, MAX_PART_HEADERS)


class UploadParser(MultiPartParser):
    def sanitize_file_name(self, file_name):
        cleaned = super().sanitize_file_name(file_name)
        if cleaned is None and file_name:
            # An empty name stays "no file" (a form sent without one); a name with nothing left of it does not.
            return "file"
        return cleaned


def parse_files(request, stream=None):
    """The files of a request's multipart body, read from `stream` (the request itself by default)."""
    post, files = UploadParser(
        request.META, request if stream is None else stream, request.upload_handlers, request.encoding
    ).parse()
    request._post, request._files = post, files  # what request.POST and request.FILES would have given
    return files
