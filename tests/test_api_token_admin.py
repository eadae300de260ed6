"""API tokens are shown once when created and stored hashed."""

import json
import re

import pytest
from django.contrib.sessions.models import Session
from django.db import connection

from uploads.models import ApiToken

pytestmark = pytest.mark.django_db


def test_new_token_is_shown_once_and_stored_hashed(admin_client):
    response = admin_client.post(
        "/admin/uploads/apitoken/add/", {"name": "sharex", "can_upload": "on", "can_delete": "on"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = re.search(r'id="api-token" readonly value="(imgbed_[^"]+)"', response.content.decode()).group(1)
    row = ApiToken.objects.get()
    assert ApiToken.matching(token) == row and row.can_delete
    assert token not in admin_client.get("/admin/uploads/apitoken/").content.decode()
    assert token not in admin_client.get(f"/admin/uploads/apitoken/{row.pk}/change/").content.decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM uploads_apitoken")
        assert token not in repr(cursor.fetchall())
    assert all(token not in json.dumps(s.get_decoded()) for s in Session.objects.all())
