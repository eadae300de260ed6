"""The OneDrive channel form: field errors in words, write-only secrets."""

import pytest

from channels.onedrive.models import OneDriveChannel

pytestmark = pytest.mark.django_db

ADD = "/admin/channels/onedrivechannel/add/"


def form_data(**overrides):
    data = {
        "name": "Main OneDrive",
        "client_id": "11111111-2222-3333-4444-555555555555",
        "client_secret": "the-secret-value",
        "tenant_id": "consumers",
        "refresh_token": "",
        "root_directory": "",
        "enabled": "on",
        "cloud": "global",
        "serve_mode": "proxy",
        "note": "",
    }
    data.update(overrides)
    return data


def errors(response):
    return {name: list(errs) for name, errs in response.context["adminform"].form.errors.items()}


def test_invalid_tenant_is_a_form_error_naming_the_valid_values(staff_client, site_url):
    response = staff_client.post(ADD, form_data(tenant_id="contoso.onmicrosoft.com"))
    assert response.status_code == 200
    message = errors(response)["tenant_id"][0]
    assert "consumers" in message and "common" in message and "organizations" in message
    assert not OneDriveChannel.objects.exists()


@pytest.mark.parametrize("root, phrase", [("../x", ".."), ("/abs", "leading slash"), ("a\\b", "backslashes")])
def test_unsafe_root_directory_is_refused(staff_client, site_url, root, phrase):
    response = staff_client.post(ADD, form_data(root_directory=root))
    assert phrase in errors(response)["root_directory"][0]
    assert not OneDriveChannel.objects.exists()


def test_root_directory_is_normalised_on_save(staff_client, site_url):
    response = staff_client.post(ADD, form_data(root_directory="pics//imgbed/"))
    assert response.status_code == 302
    assert OneDriveChannel.objects.get().root_directory == "pics/imgbed"


def test_client_secret_is_required_on_add(staff_client, site_url):
    response = staff_client.post(ADD, form_data(client_secret=""))
    assert "secret's Value" in errors(response)["client_secret"][0]


def test_secret_inputs_are_write_only(staff_client, site_url):
    staff_client.post(ADD, form_data())
    channel = OneDriveChannel.objects.get()
    page = staff_client.get(f"/admin/channels/onedrivechannel/{channel.pk}/change/").content.decode()
    assert "the-secret-value" not in page
    assert "A value is stored and is not shown" in page
    assert f"{site_url}/api/oauth/onedrive/callback" in page
    # Saving with the input left empty keeps the stored secret.
    response = staff_client.post(
        f"/admin/channels/onedrivechannel/{channel.pk}/change/", form_data(client_secret="", note="edited")
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.note == "edited"
    assert channel.onedrive_settings.client_secret == "the-secret-value"
    # A new value replaces it.
    staff_client.post(
        f"/admin/channels/onedrivechannel/{channel.pk}/change/", form_data(client_secret="new-one")
    )
    channel.refresh_from_db()
    assert channel.onedrive_settings.client_secret == "new-one"
