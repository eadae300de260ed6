"""Hostile file names through the upload route, as raw multipart (Django's test client
would take the base name itself): what lands on a local disk, the links given back,
and the names shown (tests/test_naming.py has clean_name's rules one by one)."""

import hashlib
import json
import os
import unicodedata
from urllib.parse import quote

import pytest
import requests

from channels.models import Channel
from tests.channels import local_channel
from tests.files import png
from tests.gunicorn_site import procfile_site
from tests.worker import wait_for
from uploads.models import StoredFile

BOUNDARY = "namesboundary"

HOSTILE = [
    "../../etc/passwd",
    "..\\..\\Windows\\win.ini",
    "/etc/shadow.png",
    "C:\\boot.png",
    "a\x00b\x01c\x1b\x7f.png",
    "tab\there.png",
    "x" * 1000 + ".png",
    "\u56fe" * 1000 + ".png",  # 3,000 bytes in UTF-8
    "evil\u202egnp.png",
    "zero\u200bwidth\ufeff.png",
    ".",
    "..",
    "...png",
    ".hidden.png",
    "a#b.png",
    "what?.png",
    "100%.png",
    "%2e%2e%2fup.png",
    "&#46;&#46;&#47;&#46;&#46;&#47;unescaped.png",
    "CON.png",
    "semi;colon'quote.png",
    "caf\u00e9.png",  # NFC
    "cafe\u0301.png",  # NFD: looks the same
]


def multipart(name: str, data: bytes) -> bytes:
    # As browsers send it: the name's quotes escaped, everything else as it is, in UTF-8.
    quoted = name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def invisible(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Cs")]


@pytest.mark.django_db(transaction=True)
def test_hostile_names_stay_inside_the_channel_folder_and_their_links_work(
    client, tmp_path, start_worker, settings
):
    settings.IMGBED_PUBLIC_UPLOADS = True
    root = tmp_path / "disk" / "files"
    local_channel(root, health=Channel.Health.CONNECTED)
    start_worker(concurrency=1)
    sent = {}
    for index, name in enumerate(HOSTILE):
        data = png(100, seed=index) + index.to_bytes(4, "big")  # each file its own bytes
        for name_type in ("origin", "default"):
            response = client.generic(
                "POST",
                f"/upload?uploadNameType={name_type}&uploadFolder=a/b",
                multipart(name, data),
                CONTENT_TYPE,
            )
            assert response.status_code == 200, (name, response.content)
            src = json.loads(response.content)[0]["src"]
            assert src not in sent, (name, src)
            sent[src] = (name, data)

    wait_for(
        lambda: StoredFile.objects.filter(status=StoredFile.Status.STORED).count() == len(sent),
        timeout=180,
        what="every file to be stored",
    )
    # Nothing outside the channel's folder: every file under tmp_path is below root.
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(p.resolve().is_relative_to(root.resolve()) for p in written), written
    assert len(written) == len(sent)

    for src, (name, data) in sent.items():
        public_id = src.removeprefix("/file/")
        assert public_id.startswith("a/b/")
        last = public_id.removeprefix("a/b/")
        assert "/" not in last and "\\" not in last and last not in (".", "..") and not last.startswith(".")
        assert not set(last) & set("#?%\\:*\"'<>|;") and not invisible(last), public_id
        assert unicodedata.is_normalized("NFC", public_id)
        assert len(last.encode()) <= 255  # what a file name may be on ext4, NTFS, OneDrive
        row = StoredFile.objects.get(public_id=public_id)
        assert (root / row.remote_path).read_bytes() == data
        # The link, from the channel now: the bytes of this upload and no other.
        served = client.get(src)
        assert served.status_code == 200, (name, src)
        assert hashlib.sha256(b"".join(served.streaming_content)).digest() == hashlib.sha256(data).digest()
        # The name as kept and shown: no control or invisible characters, no path.
        assert not invisible(row.original_name) and "/" not in row.original_name, repr(row.original_name)
        assert len(row.original_name) <= 500
        disposition = served["Content-Disposition"]
        assert all(" " <= c <= "~" for c in disposition), repr(disposition)
        assert disposition.count('"') == 2  # the ASCII fallback is one quoted string


@pytest.mark.django_db
def test_names_that_differ_only_by_normalisation_get_ids_that_do_not_look_alike(client, channel, settings):
    settings.IMGBED_PUBLIC_UPLOADS = True
    channel.health = Channel.Health.CONNECTED
    channel.save()
    ids = []
    for name in ("caf\u00e9.png", "cafe\u0301.png"):
        response = client.generic(
            "POST", "/upload?uploadNameType=origin", multipart(name, png()), CONTENT_TYPE
        )
        ids.append(json.loads(response.content)[0]["src"])
    assert ids == ["/file/caf\u00e9.png", "/file/caf\u00e9(1).png"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", [".", "..", "/", "a/", "..\\"])
def test_a_name_with_nothing_left_of_it_is_a_file_not_a_missing_one(client, channel, settings, name):
    settings.IMGBED_PUBLIC_UPLOADS = True
    channel.health = Channel.Health.CONNECTED
    channel.save()
    data = png(300)
    response = client.generic("POST", "/upload?uploadNameType=origin", multipart(name, data), CONTENT_TYPE)
    assert response.status_code == 200, response.content
    src = json.loads(response.content)[0]["src"]
    assert src == "/file/file"
    assert b"".join(client.get(src).streaming_content) == data


@pytest.mark.django_db
@pytest.mark.parametrize(
    "folder, phrase",
    [
        ("../etc", "may not contain '..'"),
        ("a/../../b", "may not contain '..'"),
        ("a\\..\\b", "may not contain '..'"),
        ("a/.. /b", "may not contain '..'"),
        ("/".join("abcdefghijk"), "at most 10 levels, not 11"),
    ],
)
def test_a_hostile_folder_is_a_400_in_words(client, channel, settings, folder, phrase):
    settings.IMGBED_PUBLIC_UPLOADS = True
    channel.health = Channel.Health.CONNECTED
    channel.save()
    response = client.generic(
        "POST", f"/upload?uploadFolder={quote(folder)}", multipart("pic.png", png()), CONTENT_TYPE
    )
    assert response.status_code == 400
    assert phrase in json.loads(response.content)["error"]
    assert not StoredFile.objects.exists()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with procfile_site(tmp_path_factory.mktemp("names")) as running:
        yield running


@pytest.mark.parametrize(
    "name",
    [
        "a#b.png",
        "what?.png",
        "100%.png",
        "50%25 off.png",
        "caf\u00e9 & cr\u00e8me.png",
        "cafe\u0301.png",
        "图片 #1.png",
    ],
)
def test_links_for_names_with_url_characters_work_over_http(site, name):
    """ImgBed's own links break on `#`: these are fetched the way a browser or curl would."""
    data = png(200) + os.urandom(8)
    with requests.Session() as http:
        http.trust_env = False
        for name_type in ("origin", "default", "index", "short"):
            response = http.post(
                f"{site.url}/upload?authCode={site.upload_code}&uploadNameType={name_type}&returnFormat=full",
                data=multipart(name, data),
                headers={"Content-Type": CONTENT_TYPE},
                timeout=60,
            )
            assert response.status_code == 200, response.text
            link = response.json()[0]["src"]
            assert "#" not in link and "?" not in link and "%" not in link and " " not in link
            fetched = http.get(link, timeout=60)  # requests percent-encodes what it must, as browsers do
            assert fetched.status_code == 200 and fetched.content == data, (name_type, link)
