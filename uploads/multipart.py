"""The upload's multipart body, parsed as Django does but for one thing: a file whose
name is nothing but dots or separators (`..`, `.`, `a/`) is taken, named `file`.
Django drops such a part as if no file had been sent, and the person would be told
to send one."""

from django.http.multipartparser import MultiPartParser


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
