"""Form parts every kind's settings form uses."""

from django import forms

# What every channel has, whatever its kind: how uploads choose it, and a note.
SHARED_FIELDS = ["priority", "weight", "capacity", "fill_threshold", "enabled", "note"]


class SecretInput(forms.PasswordInput):
    """Write-only: never renders the stored value, keeps browsers' password managers out."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "new-password", "spellcheck": "false", **(attrs or {})})


def secret_field(label, help_when_empty):
    return forms.CharField(
        label=label, required=False, strip=True, widget=SecretInput(), help_text=help_when_empty
    )
