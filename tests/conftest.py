import pytest
from cryptography.fernet import Fernet


@pytest.fixture
def new_key():
    return Fernet.generate_key().decode()
