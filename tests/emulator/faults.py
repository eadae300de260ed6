"""Injected failures: the next N matching requests get a chosen error instead
of being served, so tests can drive a client through throttling, outages and
expired tokens without waiting for the real thing."""

import re
import threading
from dataclasses import dataclass, field

# What a rule can name besides an HTTP method. "identity" covers every
# sign-in endpoint, "*" every request.
KINDS = frozenset({"token", "authorize", "discovery", "identity", "graph", "upload_url", "download", "*"})
IDENTITY_KINDS = frozenset({"token", "authorize", "discovery"})
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A hanging request gives its server thread back after this long even if never released.
HANG_LIMIT = 120.0


@dataclass(eq=False)
class FaultRule:
    target: str
    path_regex: re.Pattern | None
    status: int
    remaining: int
    retry_after: int | float | None
    body: bytes | str | dict | None
    headers: dict
    hang: bool = False
    fired: int = 0
    released: threading.Event = field(default_factory=threading.Event)
    # Set when a hanging request has arrived and is waiting: a test waits on it, not on a clock.
    hanging: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        """Let the requests this rule holds go on (they are then dropped without an answer)."""
        self.released.set()

    def matches(self, kind: str, method: str, path: str) -> bool:
        if self.target == "*":
            pass
        elif self.target in METHODS:
            if method != self.target:
                return False
        elif self.target == "identity":
            if kind not in IDENTITY_KINDS:
                return False
        elif self.target != kind:
            return False
        return self.path_regex is None or self.path_regex.search(path) is not None


class Faults:
    """Thread-safe; rules fire in the order they were injected."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        # Seconds every request waits before it is handled (and before any fault).
        self.latency = 0.0

    def inject(
        self,
        kind_or_method: str,
        path_regex: str | None = None,
        status: int = 429,
        count: int = 1,
        retry_after: int | float | None = 2,
        body: bytes | str | dict | None = None,
        headers: dict | None = None,
        hang: bool = False,
    ) -> FaultRule:
        """Answer the next `count` matching requests with `status`.

        `kind_or_method` is a kind ("token", "authorize", "discovery",
        "identity", "graph", "upload_url", "download", "*") or an HTTP method.
        `path_regex` is searched in the URL path (no query). `retry_after`
        is sent as a Retry-After header on 429 and 5xx answers; None sends
        none. `body` replaces the error body the emulator would write.
        Status 0 drops the connection without any answer. `hang=True` holds
        the request unanswered (the client's timeout is what ends it) until
        the rule's release(), clear(), or HANG_LIMIT; then the connection is
        dropped. rule.hanging is set once a request is being held.
        """
        target = kind_or_method if kind_or_method in KINDS else kind_or_method.upper()
        if target not in KINDS and target not in METHODS:
            raise ValueError(f"unknown fault target {kind_or_method!r}: use one of {sorted(KINDS | METHODS)}")
        rule = FaultRule(
            target=target,
            path_regex=re.compile(path_regex) if path_regex else None,
            status=status,
            remaining=count,
            retry_after=retry_after,
            body=body,
            headers=dict(headers or {}),
            hang=hang,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, kind: str, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.remaining > 0 and rule.matches(kind, method, path):
                    rule.remaining -= 1
                    rule.fired += 1
                    return rule
        return None

    @property
    def pending(self) -> list[FaultRule]:
        with self._lock:
            return [r for r in self._rules if r.remaining > 0]

    def clear(self) -> None:
        with self._lock:
            for rule in self._rules:
                rule.release()
            self._rules.clear()
        self.latency = 0.0
