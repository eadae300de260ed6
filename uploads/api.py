"""The ImgBed-compatible API: POST /upload, its CORS preflight, and delete."""

import logging
from contextlib import nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from channels.models import Channel
from imgbed_site import runtime
from imgbed_site.body_deadline import BodyTimedOut
from uploads import dimensions, image_checks, staging
from uploads.auth import NotAuthorized, identify
from uploads.channel_choice import NoChannel, choose
from uploads.client_ip import client_ip, parse_ip
from uploads.early_start import EarlyStart
from uploads.models import FormerId, StoredFile
from uploads.multipart import parse_files
from uploads.naming import NAME_TYPES, NoFreeId, clean_folder, clean_name, make_id, remote_path_of
from uploads.sniff import allowed, sniff
from uploads.staging import FileTooLarge, StagingFull, StagingUploadHandler
from uploads.tasks import send_after_commit, upload_to_channel

log = logging.getLogger(__name__)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, authCode",
    "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
}
# Multipart framing around the file: a request this much over the limit is refused unread.
MULTIPART_SLACK = 64 * 1024
# A body larger than this is not read when no channel could take it. A smaller
# one costs less to read than asking the database twice.
PRECHECK_ABOVE = 1024 * 1024


def _cors(response):
    for key, value in CORS_HEADERS.items():
        response[key] = value
    return response


def error(message, status):
    return _cors(JsonResponse({"error": message}, status=status))


def no_channel(request, exc):
    message = str(exc)
    if exc.unconfigured and request.user.is_staff:
        # Staff can act on it: say where a channel is added.
        add = settings.SITE_URL + reverse("admin:channels_channel_add")
        message += f" Add a channel at {add}"
    return error(message, exc.status)


def _human(n):
    return filesizeformat(n).replace("\xa0", " ")


@csrf_exempt
def upload(request):
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    if request.method != "POST":
        return error("Use POST with a multipart/form-data body and the file in the field 'file'.", 405)
    address = client_ip(request)
    if runtime.current().upload_blocked(parse_ip(address)):
        # Before anything else: the body is not read, no query is made.
        return error(
            f"Uploads from your address ({address}) are blocked by this site's staff. "
            "If you think this is a mistake, contact them and give them this address.",
            403,
        )
    try:
        uploader = identify(request)
    except NotAuthorized as exc:
        response = error(str(exc), exc.status)
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response
    if not uploader.can("upload"):
        return error("This API token may not upload.", 403)

    name_type = request.GET.get("uploadNameType", "default") or "default"
    if name_type not in NAME_TYPES:
        return error(f"uploadNameType must be one of {', '.join(NAME_TYPES)}.", 400)
    try:
        folder = clean_folder(request.GET.get("uploadFolder", ""))
    except ValueError as exc:
        return error(str(exc), 400)

    limit = settings.IMGBED_MAX_UPLOAD_SIZE
    if not request.content_type.startswith("multipart/form-data"):
        return error("Send the file as multipart/form-data in the field 'file'.", 400)
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        # Django reads a body of the length declared, so a chunked one would look empty.
        return error(
            "Send the file with a Content-Length header: this site does not take chunked request bodies.",
            411,
        )
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return error("The Content-Length header is not a number.", 400)
    if declared > limit + MULTIPART_SLACK:
        return error(f"The file is larger than this site's limit of {_human(limit)}.", 413)
    if declared > PRECHECK_ABOVE:
        try:
            # Fail fast, before the body is read; the final choice knows the size.
            choose(request.GET.get("uploadChannel", ""), request.GET.get("channelName", ""))
        except NoChannel as exc:
            return no_channel(request, exc)

    asked = _Upload(request, folder, name_type, uploader)
    handler = StagingUploadHandler(request, limit)
    request.upload_handlers = [handler]
    try:
        early = EarlyStart.for_request(request, handler, asked.start_early)
    except BodyTimedOut as exc:
        return error(exc.message, 408)
    try:
        return _receive(asked, handler, early)
    finally:
        if early is not None and not early.finished:
            early.abandon()


def _receive(upload, handler, early):
    request = upload.request
    limit = settings.IMGBED_MAX_UPLOAD_SIZE
    try:
        received = (early.parse() if early else parse_files(request)).get("file")
    except FileTooLarge:
        return error(f"The file is larger than this site's limit of {_human(limit)}.", 413)
    except StagingFull:
        log.error("staging disk full: an upload was refused", exc_info=True)
        return error(
            "This site's disk is full, so the file was not saved. Try again later; the site's staff "
            "must free space on the disk that holds IMGBED_DATA_DIR (or its staging folder).",
            507,
        )
    except BodyTimedOut as exc:
        handler.abandon()
        return error(exc.message, 408)
    except TooManyFieldsSent:
        handler.abandon()
        return error(
            f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} form fields. "
            "Send the file in the field 'file' and the options in the query.",
            400,
        )
    except TooManyFilesSent:
        handler.abandon()
        return error(
            f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files. "
            "Send one file per request, in the field 'file'.",
            400,
        )
    except RequestDataTooBig:
        handler.abandon()
        return error(
            f"The form fields beside the file hold more than {_human(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}. "
            "Send the file in the field 'file' and only short options beside it.",
            413,
        )
    except Exception:  # a broken multipart body, or a client that went away
        handler.abandon()  # Django's parser does not always tell the handler
        log.info("unreadable multipart body", exc_info=True)
        return error("The request body is not valid multipart/form-data.", 400)
    if received is None:
        if handler.cut_short:
            handler.abandon()
            return error(
                "The request body ended before the file did (the connection was cut?). Send the file again.",
                400,
            )
        return error("No file: send it in the multipart field 'file'.", 400)
    try:
        return _accept(upload, received, early)
    finally:
        received.discard()


@dataclass
class _Upload:
    """What the request asked for, beside its body."""

    request: object
    folder: str
    name_type: str
    uploader: object

    def choose(self, size):
        return choose(
            self.request.GET.get("uploadChannel", ""), self.request.GET.get("channelName", ""), size
        )

    def start_early(self, handler, expected_size):
        """The row for a file whose first bytes just arrived, its task enqueued; None to wait for the end."""
        sniffed = sniff(handler.head, handler.file_name or "")
        if not allowed(sniffed, settings.IMGBED_ALLOWED_TYPES):
            return None  # refused at the end, with the whole file's answer
        try:
            channel = self.choose(expected_size)
            return _create_row(
                self,
                handler.file_name,
                expected_size,
                "",
                sniffed,
                channel,
                handler.staged_name,
                receiving=True,
            )
        except NoChannel:
            return None


def _accept(upload, received, early):
    request = upload.request
    if received.size == 0:
        return error("The file is empty.", 400)
    sniffed = sniff(received.head, received.name or "")
    if not allowed(sniffed, settings.IMGBED_ALLOWED_TYPES):
        return error(
            f"This site does not accept {sniffed.content_type} files (judged by the file's content, not its "
            f"name). Allowed: {', '.join(settings.IMGBED_ALLOWED_TYPES)}.",
            415,
        )
    pixels = _measure(sniffed, received)
    refused = image_checks.refusal(sniffed, received.size, pixels, settings.IMGBED_MAX_IMAGE_PIXELS)
    if refused is not None:
        return error(refused, 400)
    if early is not None and early.row is not None:
        stored = early.finish(received)
        if stored is None:
            return error("The upload took too long to finish. Send the file again.", 503)
        if pixels is not None:
            # Its row was made from the first bytes; the whole file is in now.
            StoredFile.objects.filter(pk=stored.pk).update(width=pixels[0], height=pixels[1])
            stored.width, stored.height = pixels
    else:
        try:
            # Chosen now the size is known: queued bytes count against the space left.
            channel = upload.choose(received.size)
        except NoChannel as exc:
            return no_channel(request, exc)
        staged_name = staging.commit(received)
        try:
            stored = _create_row(
                upload, received.name, received.size, received.sha256, sniffed, channel, staged_name, pixels
            )
        except NoChannel as exc:
            staging.remove(staged_name)
            return no_channel(request, exc)
        except Exception:
            staging.remove(staged_name)
            raise
        if stored is None:
            staging.remove(staged_name)
            return error("Could not find a free name for the file. Try another uploadNameType.", 409)
    src = stored.url_path
    if request.GET.get("returnFormat") == "full":
        src = settings.SITE_URL + src
    return _cors(JsonResponse([{"src": src}], safe=False))


def _measure(sniffed, received):
    """(width, height) of an image, from its header (the kept head, a few reads of the received file
    beyond it); None for anything else. Never decodes the pixels."""
    if sniffed.category != "image":
        return None
    return dimensions.measure(received.head, getattr(received, "temp_path", None))


def _create_row(
    upload, original_name, size, sha256, sniffed, channel, staged_name, pixels=None, receiving=False
):
    """The committed row with a free public id, its task enqueued; None when no id is free."""
    folder, uploader = upload.folder, upload.uploader
    name = clean_name(original_name or "")
    prefix = f"{folder}/" if folder else ""

    def an_old_link(candidate):
        # A moved file's former id: its link redirects, and its object still sits at that remote path.
        return FormerId.objects.filter(public_id=prefix + candidate).exists()

    def exists(candidate):
        return StoredFile.objects.filter(public_id=prefix + candidate).exists() or an_old_link(candidate)

    def next_index():
        return StoredFile.objects.filter(folder=folder).count() + 1

    for attempt in range(5):
        # The unique index is the real check for live ids, so the first try asks only about
        # old links (it nearly always is free); after a clash the numbered variants are asked for.
        try:
            public_id = prefix + make_id(
                upload.name_type,
                name,
                sniffed.extension,
                exists=exists if attempt else an_old_link,
                next_index=next_index,
            )
        except NoFreeId:
            return None
        try:
            with _one_statement():
                stored = StoredFile.objects.create(
                    public_id=public_id,
                    original_name=(original_name or "")[:500],
                    folder=folder,
                    remote_path=remote_path_of(channel.root_directory, public_id),
                    size=size,
                    sha256=sha256,
                    content_type=sniffed.content_type,
                    category=sniffed.category,
                    channel_id=channel.pk,
                    staged_name=staged_name,
                    uploader=uploader.user,
                    api_token=uploader.token,
                    upload_code=uploader.code,
                    uploader_ip=client_ip(upload.request),
                    width=pixels[0] if pixels else None,
                    height=pixels[1] if pixels else None,
                    receiving=receiving,
                )
        except IntegrityError:
            if StoredFile.objects.filter(public_id=public_id).exists():
                continue  # the id was taken (maybe by an upload at the same moment): ask again
            # Not the id: the chosen channel was deleted meanwhile.
            raise NoChannel("The storage channel went away while the file arrived. Send it again.") from None
        # Ids only in the message; the worker reads the row.
        send_after_commit(upload_to_channel, stored.pk)
        return stored
    return None


def _one_statement():
    """Where the row's INSERT runs. On its own it commits by itself, without a
    BEGIN and a COMMIT to wait for; inside a caller's transaction, a savepoint
    keeps that transaction usable after a clash of ids."""
    if transaction.get_connection().in_atomic_block:
        return transaction.atomic()
    return nullcontext()


@csrf_exempt
def channels(request):
    """Enabled channels by kind, as ImgBed lists them; names and kinds only."""
    listing = {kind: [] for kind in Channel.Kind.values}
    for channel in Channel.objects.filter(enabled=True).order_by("name"):
        listing[channel.kind].append({"name": channel.name, "type": channel.kind})
    return _cors(JsonResponse(listing))
