"""The upload auth code form says what to enter when adding, and what leaving it empty does when editing."""

import pytest

from uploads.models import UploadCode

pytestmark = pytest.mark.django_db

ADD = "/admin/uploads/uploadcode/add/"


def code_help(response):
    return str(response.context["adminform"].form.fields["code"].help_text)


def test_add_form_says_what_to_enter_not_that_empty_keeps_one(staff_client):
    response = staff_client.get(ADD)
    page = response.content.decode()
    assert "leave empty" not in page.lower()
    assert "Choose the code uploaders will give as authCode" in code_help(response)
    assert 'class="required" for="id_code"' in page


def test_add_form_without_a_code_is_refused(staff_client):
    response = staff_client.post(ADD, {"label": "friends", "code": "", "enabled": "on"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["code"] == ["Choose a code."]
    assert not UploadCode.objects.exists()


def test_change_form_keeps_the_code_when_left_empty(staff_client):
    row = UploadCode(label="friends")
    row.set_code("sesame")
    row.save()
    url = f"/admin/uploads/uploadcode/{row.pk}/change/"
    assert "leave empty to keep the current one" in code_help(staff_client.get(url))

    response = staff_client.post(url, {"label": "family", "code": "", "enabled": "on"})
    assert response.status_code == 302
    assert UploadCode.matching("sesame").label == "family"

    staff_client.post(url, {"label": "family", "code": "open-sesame", "enabled": "on"})
    assert UploadCode.matching("sesame") is None
    assert UploadCode.matching("open-sesame").label == "family"
