"""Rows whose writers save only what they changed, so none undoes another.

Workers rotate tokens and record health and quota while staff edit the same
channel: a full save from a form loaded before a rotation would write back a
refresh token that Microsoft has already killed. A model with this mixin
remembers each field's value as it was read; save() without update_fields
writes only the fields given another value since (with the auto_now ones),
and nothing at all when none was.
"""

from channels.fields import EncryptedTextField


class SavesOnlyChanges:
    """Mixed into a model before models.Model."""

    def save(self, *args, **kwargs):
        if (
            kwargs.get("update_fields") is None
            and not kwargs.get("force_insert")
            and not self._state.adding
            and hasattr(self, "_loaded")
        ):
            changed = self.changed_fields()
            if not changed:
                return
            stamps = [f.attname for f in self._meta.concrete_fields if getattr(f, "auto_now", False)]
            kwargs["update_fields"] = [*changed, *(name for name in stamps if name not in changed)]
        super().save(*args, **kwargs)
        written = kwargs.get("update_fields")
        if written is None:
            self._remember([f.attname for f in self._meta.concrete_fields])
        else:
            self._remember([self._meta.get_field(name).attname for name in written])

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        names = fields or [f.attname for f in self._meta.concrete_fields]
        self._remember([self._meta.get_field(name).attname for name in names])

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded = {}
        instance._remember(field_names)
        return instance

    def _remember(self, attnames):
        if not hasattr(self, "_loaded"):
            self._loaded = {}
        for attname in attnames:
            if attname in self.__dict__:
                self._loaded[attname] = self.__dict__[attname]

    def changed_fields(self) -> list[str]:
        """Fields given another value on this instance since it was read."""
        by_attname = {f.attname: f for f in self._meta.concrete_fields}
        changed = []
        for attname, loaded in getattr(self, "_loaded", {}).items():
            current = self.__dict__.get(attname)
            field = by_attname[attname]
            if isinstance(field, EncryptedTextField):
                # Model validation reads every field and sets it back, decrypted.
                if not field.same_value(loaded, current):
                    changed.append(attname)
            elif current != loaded:
                changed.append(attname)
        return changed
