import pytest
from cryptography.fernet import Fernet

pytest_plugins = [
    "tests.emulator.fixtures",
    "tests.browser",
    "tests.worker",
    "tests.webdavserver",
    "tests.s3server",
    # Last: it wraps what the others define. `-p no:tests.secrets_scan` turns it off.
    "tests.secrets_scan",
]


@pytest.fixture
def new_key():
    return Fernet.generate_key().decode()


@pytest.fixture
def site_url(settings):
    """The address the Django test client uses; live-server tests override it."""
    settings.SITE_URL = "http://testserver"
    return settings.SITE_URL


@pytest.fixture
def onedrive_settings(settings, emulator, site_url):
    settings.ONEDRIVE_LOGIN_URL = emulator.base_url
    settings.ONEDRIVE_GRAPH_URL = emulator.base_url
    return settings


@pytest.fixture
def entra_app(emulator, onedrive_settings):
    """An app registration whose redirect URI is this site's callback."""
    return emulator.register_app(
        redirect_uris=[onedrive_settings.SITE_URL + "/api/oauth/onedrive/callback"], audience="consumers"
    )


@pytest.fixture
def ada(emulator):
    return emulator.add_user(display_name="Ada Lovelace", email="ada@example.com", quota_total=5 * 1024**3)


@pytest.fixture
def channel(entra_app, emulator, ada, db):
    """A saved channel holding a refresh token that works."""
    from tests.channels import onedrive_channel

    return onedrive_channel(
        name="Main OneDrive",
        client_id=entra_app.client_id,
        client_secret=entra_app.client_secret,
        tenant_id="consumers",
        refresh_token=emulator.issue_refresh_token(entra_app, ada),
    )


def _staff(django_user_model, client, username):
    user = django_user_model.objects.create_user(username, password="pw", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(client, django_user_model, db):
    return _staff(django_user_model, client, "staff")


@pytest.fixture
def other_staff_client(django_user_model, db):
    from django.test import Client

    return _staff(django_user_model, Client(), "other-staff")


@pytest.fixture(autouse=True)
def auth_failures_counted_per_test(monkeypatch):
    """Each test counts wrong credentials on its own: one test's failures from 127.0.0.1 never
    lock the next test out, also when the cache is a Redis shared by every process of the run."""
    import uuid

    from uploads import throttle

    monkeypatch.setattr(throttle, "KEY", f"imgbed:auth-failures:test-{uuid.uuid4().hex}:")
