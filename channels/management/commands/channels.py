"""Channels from the command line, for automated installs and ops."""

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.template.defaultfilters import filesizeformat

from channels import kinds, probes
from channels.errors import ChannelError
from channels.models import Channel

ADD_EPILOG = (
    "Secrets come from --set-file KEY=PATH or --set-env KEY=VARIABLE, so they stay out of shell history."
)


def _pairs(values, option):
    pairs = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"{option} takes KEY=VALUE, not {item!r}.")
        pairs[key.strip()] = value
    return pairs


class Command(BaseCommand):
    help = "List, add, test, enable and disable storage channels."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="Every channel with its kind, health, space and order.")
        add = sub.add_parser("add", help="Add a channel of a kind.", epilog=ADD_EPILOG)
        add.add_argument("kind", choices=sorted(kinds.KINDS))
        add.add_argument("--name", required=True)
        add.add_argument(
            "--set",
            dest="values",
            action="append",
            metavar="KEY=VALUE",
            help="A setting, e.g. path=/srv/files",
        )
        add.add_argument("--set-file", action="append", metavar="KEY=PATH", help="A setting read from a file")
        add.add_argument(
            "--set-env",
            action="append",
            metavar="KEY=VARIABLE",
            help="A setting read from an environment variable",
        )
        add.add_argument("--no-test", action="store_true", help="Save without testing the connection.")
        for action in ("test", "disable", "enable"):
            sub.add_parser(action, help=f"{action.capitalize()} the channel by name.").add_argument("name")

    def handle(self, *args, action, **options):
        getattr(self, f"do_{action}")(**options)

    def _channel(self, name):
        channel = Channel.objects.filter(name=name).first()
        if channel is None:
            known = ", ".join(Channel.objects.values_list("name", flat=True)) or "none yet"
            raise CommandError(f"No channel is named {name!r} (channels: {known}).")
        return channel

    def do_list(self, **options):
        rows = Channel.objects.order_by("priority", "name")
        if not rows:
            self.stdout.write(
                "No channels yet. Add one: manage.py channels add local --name Disk --set path=/srv/files"
            )
            return
        for c in rows:
            space = (
                f"{filesizeformat(c.quota_used)} of {filesizeformat(c.quota_total)}"
                if c.quota_total is not None and c.quota_used is not None
                else "space unknown"
            )
            state = c.get_health_display() + ("" if c.enabled else ", disabled")
            line = f"{c.name}  [{c.kind}]  {state}  {space}  priority {c.priority}, weight {c.weight}"
            self.stdout.write(line + (f"\n    last error: {c.last_error}" if c.last_error else ""))

    def do_add(self, kind, name, values=None, set_file=None, set_env=None, no_test=False, **options):
        data = _pairs(values, "--set")
        for key, path in _pairs(set_file, "--set-file").items():
            try:
                data[key] = Path(path).read_text().strip()
            except OSError as exc:
                raise CommandError(f"--set-file {key}: cannot read {path}: {exc.strerror}.") from None
        for key, variable in _pairs(set_env, "--set-env").items():
            if variable not in os.environ:
                raise CommandError(f"--set-env {key}: the environment variable {variable} is not set.")
            data[key] = os.environ[variable]
        form_class = kinds.form_class(kind)
        form = form_class(data={"enabled": "on", **_defaults(form_class), **data, "name": name})
        unknown = sorted(set(data) - set(form.fields))
        if unknown:
            raise CommandError(
                f"{kind} channels have no setting {', '.join(unknown)}. Settings: {', '.join(form.fields)}."
            )
        if not form.is_valid():
            problems = "; ".join(
                f"{field}: {' '.join(errors)}" if field != "__all__" else " ".join(errors)
                for field, errors in form.errors.items()
            )
            raise CommandError(f"The channel was not added. {problems}")
        with transaction.atomic():
            channel = form.save()
        self.stdout.write(f"Added the {kind} channel {channel.name}.")
        if not no_test:
            self._test(channel)

    def do_test(self, name, **options):
        self._test(self._channel(name))

    def _test(self, channel):
        try:
            done = probes.check(channel.pk)
        except ChannelError as exc:
            raise CommandError(f"{channel.name}: the test failed: {exc}") from None
        self.stdout.write(f"{channel.name}: works: {done}.")

    def do_disable(self, name, **options):
        self._enable(name, False)

    def do_enable(self, name, **options):
        self._enable(name, True)

    def _enable(self, name, enabled):
        channel = self._channel(name)
        channel.enabled = enabled
        channel.save()
        self.stdout.write(
            f"{channel.name} is {'enabled' if enabled else 'disabled: it takes no new uploads'}."
        )


def _defaults(form_class) -> dict:
    """A bound form has no initial values: give each field the one the admin shows (its model
    default, whichever table of the kind holds it)."""
    values = {}
    for name, field in form_class.base_fields.items():
        if field.initial is None or callable(field.initial):
            continue
        if isinstance(field.initial, bool):
            continue  # a checkbox: absent means off
        values[name] = field.initial
    return values
