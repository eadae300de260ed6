"""A model field whose value is stored as Fernet ciphertext.

Rows keep the ciphertext in memory and decrypt only when the attribute is
read, so listing channels works even when one secret cannot be decrypted,
and saving a row re-encrypts nothing it did not change.
"""

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from channels import crypto


class Ciphertext(str):
    """A value as it is stored: never to be shown or sent anywhere."""


class _DecryptingAttribute(DeferredAttribute):
    # A data descriptor (it has __set__), so reads come here even though the
    # value sits in the instance's __dict__.
    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value

    def __get__(self, instance, cls=None):
        value = super().__get__(instance, cls)
        if isinstance(value, Ciphertext):
            return crypto.decrypt(value, what=f"{type(instance).__name__}.{self.field.name}")
        return value


class EncryptedTextField(models.TextField):
    """Empty string means "not set" and is stored as is."""

    descriptor_class = _DecryptingAttribute

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", True)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        if not value:
            return ""
        return Ciphertext(value)

    def raw(self, instance) -> str:
        """The stored ciphertext (or a pending plaintext, before save)."""
        return instance.__dict__.get(self.attname, "")

    def is_set(self, instance) -> bool:
        return bool(self.raw(instance))

    def pre_save(self, model_instance, add):
        # Skip the decrypting descriptor: unchanged ciphertext goes back as it is.
        return self.raw(model_instance)

    def get_prep_value(self, value):
        if value is None or value == "":
            return ""
        if isinstance(value, Ciphertext):
            return str(value)
        return crypto.encrypt(str(value))

    def value_from_object(self, obj):
        # Forms and serializers see the ciphertext, never the secret.
        return self.raw(obj)

    def same_value(self, raw, other_raw) -> bool:
        """Whether two raw values (ciphertext or plaintext) hold the same secret."""
        if raw == other_raw:
            return True
        if isinstance(raw, Ciphertext) == isinstance(other_raw, Ciphertext) or not raw or not other_raw:
            return False  # two ciphertexts differ in secret too (or one side is empty)
        plain = other_raw if isinstance(raw, Ciphertext) else raw
        secret = raw if isinstance(raw, Ciphertext) else other_raw
        return crypto.decrypt(secret, what=self.name) == plain

    def save_form_data(self, instance, data):
        # A write-only input: an empty submission keeps what is stored.
        if data:
            setattr(instance, self.name, data)
