"""A Microsoft identity platform + Graph drive emulator over real HTTPS on
loopback, for tests and for trying the site by hand (python -m tests.emulator).

Identity lives under /{tenant}/..., Graph under /v1.0/..., both on one host:
a client uses authority f"{emu.base_url}/{tenant}" and Graph base
f"{emu.base_url}/v1.0", with REQUESTS_CA_BUNDLE=emu.ca_pem_path.
"""

from .browser import SignInError, sign_in
from .emulator import DEFAULT_SCOPES, Emulator, SessionInfo, StoredFile
from .faults import FaultRule, Faults
from .identity import pkce_challenge
from .requestlog import LoggedRequest
from .state import CONSUMERS_TENANT_ID, App, Settings, User

__all__ = [
    "CONSUMERS_TENANT_ID",
    "DEFAULT_SCOPES",
    "App",
    "Emulator",
    "FaultRule",
    "Faults",
    "LoggedRequest",
    "SessionInfo",
    "Settings",
    "SignInError",
    "StoredFile",
    "User",
    "pkce_challenge",
    "sign_in",
]
