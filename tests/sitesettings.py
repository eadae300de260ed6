"""Site settings for the access tests: saved through the model, as the admin saves them, and
forgotten after each test (a rolled-back row must not live on in the cache)."""

import pytest

from imgbed_site import runtime
from imgbed_site.models import SiteSettings


@pytest.fixture(autouse=True)
def forget_site_settings():
    runtime.forget()
    yield
    runtime.forget()


def configure(**fields) -> SiteSettings:
    row = SiteSettings.load()
    for name, value in fields.items():
        setattr(row, name, value)
    row.full_clean()
    row.save()
    return row
