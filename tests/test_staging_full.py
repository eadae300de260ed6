"""The disk under staging fills up mid-upload: 507 in words, nothing half-saved (no row, no
partial file), and uploads that fit go through again once there is room."""

import contextlib
import os
import subprocess
import tempfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.channels import local_channel
from tests.files import png
from tests.manage_support import CODE, upload_code
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db

DISK = 2 * 1024 * 1024


@pytest.fixture
def small_disk():
    """A 2 MiB tmpfs: a real filesystem that fills up (mounting needs root)."""
    directory = tempfile.mkdtemp(prefix="imgbed-full-")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", directory], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        os.rmdir(directory)
        pytest.skip(
            f"cannot mount a small tmpfs here ({mounted.stderr.strip() or 'mount failed'}); needs root"
        )
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", directory], check=False)
        with contextlib.suppress(OSError):
            os.rmdir(directory)


@pytest.fixture
def staged_on(settings, small_disk, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "staging": {**settings.STORAGES["staging"], "OPTIONS": {"location": small_disk}},
    }
    upload_code()
    local_channel(tmp_path / "files", name="Disk", health="connected")
    return small_disk


def files_in(directory):
    return sorted(
        os.path.relpath(os.path.join(root, f), directory) for root, _, fs in os.walk(directory) for f in fs
    )


def post(client, data, name="big.png"):
    return client.post(f"/upload?authCode={CODE}", {"file": SimpleUploadedFile(name, data)})


def test_a_full_staging_disk_answers_507_in_words_and_keeps_nothing(client, staged_on):
    response = post(client, png(3 * 1024 * 1024))  # larger than the whole disk

    assert response.status_code == 507
    error = response.json()["error"]
    assert "disk is full" in error and "file was not saved" in error and "free space" in error
    assert not StoredFile.objects.exists()
    assert files_in(staged_on) == []  # no partial file in staging or its incoming folder

    # Room enough for a small one: it is taken in as usual.
    small = post(client, png(50_000), name="small.png")
    assert small.status_code == 200, small.content
    assert StoredFile.objects.count() == 1
