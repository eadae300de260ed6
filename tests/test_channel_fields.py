import pytest
from django.core.exceptions import ValidationError

from channels.models import normalize_root_directory
from channels.onedrive.models import validate_tenant


@pytest.mark.parametrize(
    "tenant", ["consumers", "common", "organizations", "72f988bf-86f1-41af-91ab-2d7cd011db47"]
)
def test_valid_tenants(tenant):
    validate_tenant(tenant)


@pytest.mark.parametrize("tenant", ["", "personal", "contoso.onmicrosoft.com", "72f988bf-86f1", "Consumers "])
def test_invalid_tenant_names_the_valid_values(tenant):
    with pytest.raises(ValidationError) as info:
        validate_tenant(tenant)
    text = info.value.messages[0]
    for word in ("consumers", "common", "organizations", "directory (tenant) ID"):
        assert word in text


@pytest.mark.parametrize(
    "given, stored",
    [
        ("", "imgbed"),
        ("  ", "imgbed"),
        ("imgbed", "imgbed"),
        ("pics//2026/", "pics/2026"),
        ("./a/./b", "a/b"),
    ],
)
def test_root_directory_is_normalised(given, stored):
    assert normalize_root_directory(given) == stored


@pytest.mark.parametrize(
    "given, complaint",
    [
        ("../etc", ".."),
        ("a/../../b", ".."),
        ("/imgbed", "leading slash"),
        ("a\\b", "backslash"),
        ("a:b", ":"),
    ],
)
def test_root_directory_rejects_escapes(given, complaint):
    with pytest.raises(ValidationError) as info:
        normalize_root_directory(given)
    assert complaint in info.value.messages[0]
