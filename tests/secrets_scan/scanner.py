"""The secrets known so far, the texts waiting to be searched for them, and what was found where."""

import json
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, quote_plus

MIN_LENGTH = 8

# Above this many forms to look for, a text is walked once through an index of their first
# characters instead of being searched once per form.
DIRECT_SEARCH_LIMIT = 64

# A value `channels.crypto` encrypted, before it is known as what it is.
GENERIC = "encrypted value"


def forms(value: str) -> set[str]:
    """The ways a value may be written out: as is, URL-encoded, inside a JSON string."""
    found = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    return {f for f in found if len(f) >= MIN_LENGTH}


class Scanner:
    """The secrets known so far, texts waiting to be searched, and what was found where."""

    def __init__(self):
        self.kinds: dict[str, str] = {}  # secret -> its kind
        self._forms: dict[str, str] = {}  # a form of a secret -> the secret
        self._index: dict[str, list[str]] = {}  # first MIN_LENGTH characters -> forms
        self.short: set[str] = set()  # secrets too short to look for
        self.pending: list = []  # (sink, where, text, allow, test)
        self.findings: dict[tuple, str] = {}  # (sink, kind, where) -> the test it happened in
        self.logs: dict[Path, list] = {}  # a process's output -> [label, bytes already read]
        self.messages_seen: dict[tuple, int] = {}  # a waiting message -> how many secrets were known
        self.test = "(outside any test)"
        self.seconds = 0.0  # spent reading and searching at the checks, for the summary
        self.scanned: dict[str, int] = {}  # characters searched in each sink, for the summary
        self._lock = threading.Lock()

    # --- secrets -------------------------------------------------------------

    def add(self, kind: str, value) -> None:
        if not isinstance(value, str) or not value:
            return
        if value in self.kinds:
            if self.kinds[value] == GENERIC:  # learnt first from the encryption, now by what it is
                self.kinds[value] = kind
            return
        if len(value) < MIN_LENGTH:
            self.short.add(value)
            return
        with self._lock:
            self.kinds[value] = kind
            for form in forms(value):
                if form not in self._forms:
                    self._forms[form] = value
                    self._index.setdefault(form[:MIN_LENGTH], []).append(form)

    def secrets_in(self, text: str, sink: str = "") -> set[str]:
        """The known secrets that appear in `text`, in any of their forms."""
        self.scanned[sink] = self.scanned.get(sink, 0) + len(text)
        if len(text) < MIN_LENGTH:
            return set()
        if len(self._forms) <= DIRECT_SEARCH_LIMIT:
            # A copy: other threads (the live server's) may be adding secrets meanwhile.
            return {secret for form, secret in list(self._forms.items()) if form in text}
        found = set()
        index = self._index
        for i in range(len(text) - MIN_LENGTH + 1):
            candidates = index.get(text[i : i + MIN_LENGTH])
            if candidates:
                found.update(self._forms[f] for f in candidates if text.startswith(f, i))
        return found

    # --- sinks ---------------------------------------------------------------

    def write(self, sink: str, where: str, text, allow=None) -> None:
        """A text the site wrote or showed, searched at the next check (the secrets it may hold
        can be learnt later in the test, e.g. from the emulator). `allow(found)` drops the
        secrets the text may show by design."""
        if text:
            self.pending.append((sink, where, text if isinstance(text, str) else str(text), allow, self.test))

    def check(self) -> None:
        """Search every pending text and the processes' new output."""
        from tests.secrets_scan.sources import harvest  # it reports to scanners: imported here

        harvest(self)
        pending, self.pending = self.pending, []
        for sink, where, text, allow, test in pending:
            found = self.secrets_in(text, sink)
            if found and allow is not None:
                found = allow(found, self)
            for secret in found:
                self.findings.setdefault((sink, self.kinds[secret], where), test)
        self._check_logs()

    def watch_log(self, path, label: str) -> None:
        self.logs.setdefault(Path(path), [label, 0])

    def _check_logs(self) -> None:
        for path in list(self.logs):
            self.check_log(path)

    def check_log(self, path, last=False) -> None:
        """What a process wrote since the last look; `last` once it has stopped."""
        path = Path(path)
        entry = self.logs.get(path)
        if entry is None:
            return
        label, done = entry
        start = max(0, done - max(map(len, list(self._forms)), default=0))  # a secret may straddle the cut
        try:
            with open(path, "rb") as fh:
                fh.seek(start)
                data = fh.read()
        except FileNotFoundError:
            self.logs.pop(path, None)
            return
        entry[1] = start + len(data)
        for secret in self.secrets_in(data.decode(errors="replace"), "process log"):
            self.findings.setdefault(("process log", self.kinds[secret], label), self.test)
        if last:
            self.logs.pop(path, None)

    def report(self) -> list[str]:
        return [
            f"{sink}: {kind} found in {where} (during {test})"
            for (sink, kind, where), test in self.findings.items()
        ]


SCANNER = Scanner()


@contextmanager
def scanning_into(scanner: Scanner):
    """Send what the hooks see to `scanner` for a while (the scanner's own tests)."""
    global SCANNER
    previous, SCANNER = SCANNER, scanner
    try:
        yield scanner
    finally:
        SCANNER = previous


def current() -> Scanner:
    """The scanner the hooks report to."""
    return SCANNER
