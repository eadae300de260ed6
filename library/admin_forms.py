"""The forms the move and tag actions ask for before they run. Their field names stay clear of the
action form's own (action, index, select_across, _selected_action), which the page posts again."""

from django import forms

from library import moves, tags
from library.access import BadInput
from library.admin_filters import split_tags
from uploads.naming import MAX_SEGMENT_LENGTH


class MoveForm(forms.Form):
    destination = forms.CharField(
        label="Move into the folder",
        required=False,
        help_text="Like 2025/trips. Empty: the top level. Each file keeps its name; one whose new id "
        "another file has (or had) stays where it is.",
    )

    def clean_destination(self):
        typed = self.cleaned_data["destination"].strip().strip("/")
        try:
            folder = moves.clean_dist(typed)
        except BadInput as exc:
            reason = str(exc).removeprefix("dist: ").replace("uploadFolder", "A folder")
            reason = reason[:1].upper() + reason[1:]
            raise forms.ValidationError(reason) from None
        if folder != typed:
            raise forms.ValidationError(
                f"{typed!r} cannot be a folder as typed (a character ids cannot hold, or a name "
                f"over {MAX_SEGMENT_LENGTH} bytes); {folder!r} would do."
                if folder
                else f"{typed!r} is no folder: leave the box empty for the top level."
            )
        return folder


class TagForm(forms.Form):
    change = forms.ChoiceField(
        label="Change",
        choices=[
            ("add", "Add these tags"),
            ("remove", "Remove these tags"),
            ("set", "Replace every tag with these"),
        ],
        initial="add",
        widget=forms.RadioSelect,
    )
    names = forms.CharField(
        label="Tags",
        required=False,
        help_text=f"Commas or spaces between them. A tag is up to {tags.MAX_LENGTH} letters, digits, _, - "
        "or CJK characters; capitals become small letters. Replacing with none removes every tag.",
    )

    def clean(self):
        data = super().clean()
        if "change" not in data:
            return data
        try:
            data["tags"] = tags.normalise(split_tags(data.get("names", "")))
        except tags.BadTags as exc:
            self.add_error("names", str(exc))
            return data
        if not data["tags"] and data["change"] != "set":
            self.add_error("names", "Give at least one tag to add or remove.")
        return data
