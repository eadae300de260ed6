from pathlib import Path

from django import forms

from channels.forms import SHARED_FIELDS
from channels.local.models import LocalChannel, LocalSettings
from channels.models import normalize_root_directory


class LocalChannelForm(forms.ModelForm):
    path = forms.CharField(
        label="Folder",
        max_length=500,
        help_text="An absolute folder on this machine (or a disk the web process and every worker share), "
        "for example /srv/imgbed/files. It is created when missing.",
    )

    class Meta:
        model = LocalChannel
        fields = ["name", "path", "root_directory", *SHARED_FIELDS]
        widgets = {"note": forms.Textarea(attrs={"rows": 3})}
        labels = {"root_directory": "Subfolder"}
        help_texts = {
            "root_directory": "Folder inside the folder above that receives the files; imgbed by default."
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["root_directory"].required = False
        if self.instance.pk:
            settings = LocalSettings.objects.filter(channel=self.instance).first()
            self.initial.setdefault("path", settings.path if settings else "")

    def clean_name(self):
        return self.cleaned_data["name"].strip()

    def clean_path(self):
        path = Path(self.cleaned_data["path"].strip())
        if not path.is_absolute():
            raise forms.ValidationError(
                "Give an absolute folder, starting with / (for example /srv/imgbed/files)."
            )
        if path.exists() and not path.is_dir():
            raise forms.ValidationError(f"{path} is a file, not a folder.")
        return str(path)

    def clean_root_directory(self):
        return normalize_root_directory(self.cleaned_data.get("root_directory") or "")

    def save(self, commit=True):
        channel = super().save(commit=commit)
        if commit:
            self.save_settings(channel)
        return channel

    def save_settings(self, channel):
        LocalSettings.objects.update_or_create(channel=channel, defaults={"path": self.cleaned_data["path"]})
