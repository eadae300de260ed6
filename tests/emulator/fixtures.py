"""pytest fixtures: one emulator server per test session, its state wiped for
every test that asks for `emulator`.

In a conftest.py: `from tests.emulator.fixtures import emulator, graph_emulator`.
In a test module, assign them instead (`emulator = fixtures.emulator`), so
linters do not read each test's `emulator` argument as a shadowed import.
"""

import os

import pytest

from .emulator import Emulator

# The running instance. A test module that also defines these fixtures (next to
# a conftest.py that does) gets a second fixture definition from pytest; it then
# shares this server instead of starting one more and repointing the CA bundle.
_running: Emulator | None = None


@pytest.fixture(scope="session")
def graph_emulator():
    """The running emulator; REQUESTS_CA_BUNDLE points at its CA while it runs."""
    global _running
    if _running is not None:
        yield _running
        return
    emu = Emulator()
    emu.start()
    previous = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = emu.ca_pem_path
    _running = emu
    try:
        yield emu
    finally:
        _running = None
        if previous is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = previous
        emu.stop()


@pytest.fixture
def emulator(graph_emulator):
    """The shared emulator with fresh state: no apps, the default account, no files, faults or log."""
    graph_emulator.reset()
    yield graph_emulator
    graph_emulator.reset()
