"""The site as three machines, and a worker machine cut off in the middle of an upload.

The machines are network namespaces (tests.netns) on a private network,
198.18.0.0/24: a web host (the Procfile's web line, gunicorn, and its optional beat
line), two worker hosts (its worker line, with IMGBED_WORKER_BEAT=false), and a services host with what they share,
reached only over that network: PostgreSQL, Redis (broker and cache), an S3
server holding the staging bucket, and the Graph emulator as the OneDrive the
files go to. No host has a route anywhere else. The same checkout runs on all
of them; each has its own data directory, so they share only the database,
the broker and the bucket (docs/staging.md).

A file goes up to OneDrive in 320 KiB fragments, slowed by the emulator. Once
the emulator has stored the 7th fragment, its answer is kept back and the
worker host sending it is cut off (its port on the bridge goes down): that
worker is left waiting for an answer that no longer reaches it, not knowing
whether the fragment landed. The other worker takes the upload over when the
lease lapses and finishes it in the same upload session. Then the cut host
comes back, gets its late answer, and must stop without uploading again or
touching the row: the claim's number on the row refuses its writes.

The lease (IMGBED_UPLOAD_LEASE) is 3 s here instead of 600 s, so the takeover
comes within seconds: it still outlasts by far the longest the live worker
goes without extending it (one fragment, about 0.4 s). Beat sends
reconcile_uploads every second (IMGBED_RECONCILE_INTERVAL=1): that is what
hands the lapsed upload to the other worker, the cut one still holding the
message unacknowledged.
"""

import hashlib
import json
import secrets
import shutil
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from channels.quickxorhash import quickxorhash_b64
from tests import hosts, netns
from tests.emulator import Emulator
from tests.files import png
from tests.fragments import assert_disjoint, fragments
from tests.worker import wait_for

FRAGMENT = 327680  # 320 KiB, the smallest fragment Graph takes
PAYLOAD = 24 * FRAGMENT + 12345  # random bytes in the PNG: 25 fragments
HELD = 6  # the fragment (from 0) whose answer is kept back when the host is cut
LATENCY = 0.15  # seconds the emulator waits before each request: about 0.4 s a fragment, 10 s the file
LEASE = 3
RECONCILE_INTERVAL = 1
CODE = "three-hosts-code"
WEB_PORT = 8000
STAGING_PREFIX = "staging"


class HeldAnswer:
    def __init__(self, first_byte):
        self.first_byte = first_byte
        self.reached = threading.Event()
        self.released = threading.Event()

    def release(self):
        self.released.set()


class HoldingEmulator(Emulator):
    """The emulator, able to keep back its answer to one fragment once it has stored it."""

    _held: HeldAnswer | None = None

    def hold_fragment(self, first_byte) -> HeldAnswer:
        self._held = HeldAnswer(first_byte)
        return self._held

    def _dispatch(self, req):
        response = super()._dispatch(req)
        held = self._held
        if (
            held is not None
            and req.kind == "upload_url"
            and req.method == "PUT"
            and response.status == 202
            and (req.header("Content-Range") or "").startswith(f"bytes {held.first_byte}-")
        ):
            self._held = None
            held.reached.set()
            held.released.wait(120)
        return response


@dataclass
class Site:
    network: netns.Network
    emulator: HoldingEmulator
    db: hosts.Database
    s3: hosts.S3
    processes: dict  # role -> its hosts.Process (web, beat, worker-1, worker-2)
    url: str

    def http(self, method, path, **kwargs) -> requests.Response:
        """A request to the web host, sent from the services host."""

        def send():
            with requests.Session() as session:
                session.trust_env = False
                return session.request(method, self.url + path, timeout=60, **kwargs)

        return self.network.call(send)

    def file_row(self) -> dict:
        (row,) = self.db.rows("SELECT * FROM uploads_storedfile")
        return row


# What a deployment sets (README.md, "Run on several machines"), for this network.
def shared_settings(postgres, redis, s3, emulator) -> dict:
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "IMGBED_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": postgres.url(),
        "CELERY_BROKER_URL": redis.url(0),
        "CACHE_URL": redis.url(1),
        "IMGBED_STAGING_BACKEND": "storages.backends.s3.S3Storage",
        "IMGBED_STAGING_OPTIONS": json.dumps(s3.staging_options(STAGING_PREFIX)),
        "SITE_URL": f"http://198.18.0.11:{WEB_PORT}",
        "ALLOWED_HOSTS": "198.18.0.11",
        "ONEDRIVE_LOGIN_URL": emulator.base_url,
        "ONEDRIVE_GRAPH_URL": emulator.base_url,
        "IMGBED_FRAGMENT_SIZE": FRAGMENT,
        "IMGBED_UPLOAD_LEASE": LEASE,
        "IMGBED_RECONCILE_INTERVAL": RECONCILE_INTERVAL,
    }


# Run on the web host: migrate, then the channel and an upload code, as staff would add them.
SETUP = """
import json, os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imgbed_site.settings")
django.setup()
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=1)
from channels.models import Channel
from tests.channels import onedrive_channel
from uploads.models import UploadCode
given = json.loads(open(sys.argv[1]).read())
onedrive_channel(name="OneDrive", health=Channel.Health.CONNECTED, tenant_id="consumers", **given["sign_in"])
code = UploadCode(label="three hosts")
code.set_code(given["code"])
code.save()
"""


@pytest.fixture(scope="module")
def site():
    reason = netns.unavailable() or hosts.unavailable()
    if reason:
        pytest.skip(f"Three hosts need network namespaces and private services: {reason}.")
    workdir = Path(tempfile.mkdtemp(prefix="imgbed-three-hosts-"))
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        network = netns.Network(["web", "worker-1", "worker-2"])
        cleanup.callback(network.close)
        services = network.services
        s3 = hosts.S3(network, services, workdir)
        cleanup.callback(s3.stop)
        postgres = hosts.Postgres(network, services, workdir)
        cleanup.callback(postgres.stop)
        redis = hosts.Redis(services, workdir)
        cleanup.callback(redis.stop)
        emulator = HoldingEmulator(host=netns.SERVICES_ADDRESS)
        network.call(emulator.start)
        cleanup.callback(emulator.stop)
        s3.ready()  # started first: moto has imported meanwhile

        settings = shared_settings(postgres, redis, s3, emulator)
        app = emulator.register_app(
            redirect_uris=[settings["SITE_URL"] + "/api/oauth/onedrive/callback"], audience="consumers"
        )
        user = emulator.add_user("Ada Lovelace", "ada@example.com", quota_total=5 * 1024**3)

        def host_settings(role, **extra):
            data_dir = workdir / role
            data_dir.mkdir()
            # Each machine holds its own copy of the CA that signs the emulator's certificate.
            ca = shutil.copy(emulator.ca_pem_path, data_dir / "graph-ca.pem")
            return hosts.host_env(
                **settings,
                IMGBED_DATA_DIR=data_dir,
                REQUESTS_CA_BUNDLE=ca,
                TMPDIR=hosts.temp_dir(data_dir),
                **extra,
            )

        web_env = host_settings("web", PORT=WEB_PORT, WEB_CONCURRENCY=1)
        web = network["web"]
        given = workdir / "web" / "setup.json"
        given.touch(mode=0o600)
        given.write_text(
            json.dumps(
                {
                    "sign_in": {
                        "client_id": app.client_id,
                        "client_secret": app.client_secret,
                        "refresh_token": emulator.issue_refresh_token(app, user),
                    },
                    "code": CODE,
                }
            )
        )
        hosts.run(web, ["python", "-c", SETUP, given], web_env, workdir / "setup.log")
        given.unlink()

        def start(role, host, line, env):
            process = hosts.Process(host, ["/bin/sh", "-c", f"exec {line}"], env, workdir / f"{role}.log")
            cleanup.callback(process.stop)
            return process

        processes = {
            "web": start("web", web, hosts.procfile("web"), web_env),
            # Beat on the web host, as a process of its own (the Procfile's optional line): a
            # worker host's beat thread would stop with it when its link is cut.
            "beat": start("beat", web, hosts.procfile("beat", optional=True), web_env),
        }
        for role in ("worker-1", "worker-2"):
            line = f"{hosts.procfile('worker')} --concurrency=1 --hostname={role}@%h"
            processes[role] = start(
                role, network[role], line, host_settings(role, IMGBED_WORKER_BEAT="false")
            )
        db = postgres.client()
        cleanup.callback(db.close)
        found = Site(network, emulator, db, s3, processes, settings["SITE_URL"])

        def answers():
            try:
                return found.http("GET", "/api/channels").status_code == 200
            except requests.ConnectionError:
                return False

        processes["web"].wait_until(answers, 60, "gunicorn to answer")
        hosts.wait_for_log(processes["beat"], "beat: Starting...")
        for role in ("worker-1", "worker-2"):
            hosts.wait_for_log(processes[role], " ready.")
        yield found


def test_every_host_knows_only_addresses_on_the_test_network(site):
    for host in site.network.all():
        assert host.routes() == [
            f"198.18.0.0/24 dev {'br0' if host.role == 'services' else 'eth0'} proto kernel scope link "
            f"src {host.address}"
        ], host.role
        assert sorted(host.addresses()) == sorted(["127.0.0.1/8", f"{host.address}/24"]), host.role
        assert "unreachable" in host.route_to("192.0.2.1").stderr  # any address outside: no way there
    for role, process in site.processes.items():
        named = hosts.addresses_named(hosts.environ_of(process.pid))
        assert named, role
        assert hosts.outside_test_network(named) == set(), role
    # PostgreSQL, Redis, the S3 server and the emulator listen on the services address only.
    listening = site.network.services.sockets(listening=True)
    assert len(listening) >= 4 and {local.rsplit(":", 1)[0] for local, _ in listening} == {
        netns.SERVICES_ADDRESS
    }
    # The connections the hosts made (to the database, the broker...) are all on the network.
    for host in site.network.hosts.values():
        peers = {peer.rsplit(":", 1)[0] for _, peer in host.sockets(listening=False)}
        assert peers and hosts.outside_test_network(peers, loopback_too=True) == set(), (host.role, peers)


def upload_holder(site) -> str:
    """The worker that received the upload's task."""

    def received(role):
        lines = site.processes[role].output().splitlines()
        return any("uploads.tasks.upload_to_channel[" in line and " received" in line for line in lines)

    holding = [role for role in ("worker-1", "worker-2") if received(role)]
    assert len(holding) == 1, holding
    return holding[0]


def task_outcomes(site, role) -> list[str]:
    """How upload_to_channel ended on that worker, in order: what it returned, or its error."""
    ended = []
    for line in site.processes[role].output().splitlines():
        if "uploads.tasks.upload_to_channel[" not in line:
            continue
        if " succeeded in " in line:
            ended.append(line.rsplit(": ", 1)[1].strip("'"))
        elif " raised " in line or " retry: " in line:
            ended.append(line.split("]", 1)[1].strip())
    return ended


def test_a_worker_host_cut_off_mid_upload_is_survived(site, request):
    emulator = site.emulator
    data = png(PAYLOAD)
    size = len(data)
    emulator.faults.latency = LATENCY
    held = emulator.hold_fragment(HELD * FRAGMENT)
    try:
        answer = site.http("POST", f"/upload?authCode={CODE}", files={"file": ("big.png", data, "image/png")})
        assert answer.status_code == 200, answer.text + site.processes["web"].output()[-4000:]
        src = answer.json()[0]["src"]
        started = time.monotonic()
        assert held.reached.wait(60), "the upload did not reach the held fragment"

        # The cut lands mid-upload: fragments 0 to HELD are in the session, the rest is not.
        holder = upload_holder(site)
        other = "worker-2" if holder == "worker-1" else "worker-1"
        assert fragments(emulator) == [(i * FRAGMENT, (i + 1) * FRAGMENT - 1) for i in range(HELD)]
        (session,) = emulator.upload_sessions()
        assert session.received == (HELD + 1) * FRAGMENT < size
        row = site.file_row()
        assert (row["status"], row["attempts"]) == ("uploading", 1)

        site.network[holder].cut()
        cut_at, cut_wall = time.monotonic(), time.time()
        request.addfinalizer(site.network[holder].reconnect)  # whatever happens below
    finally:
        held.release()  # its answer goes out into the cut link (and never hangs the emulator)
    lease_ends = site.file_row()["claimed_until"].timestamp()

    stored = wait_for(
        lambda: (r := site.file_row())["status"] == "stored" and r,
        timeout=LEASE + 60,
        what=f"{other} to finish the file",
    )
    done_at = time.monotonic()
    took = done_at - cut_at
    after_cut = [r for r in emulator.requests if r.monotonic > cut_at]
    # Nothing happened to the upload until the cut worker's lease was over...
    assert all(r.wall >= lease_ends for r in after_cut)
    # ... then the other worker asked the session where it stands: it goes on, not over.
    takeover = next(r for r in after_cut if r.kind == "upload_url")
    assert takeover.method == "GET"
    resumed = [f for f in fragments(emulator) if f[0] > HELD * FRAGMENT]
    assert resumed[0][0] == (HELD + 1) * FRAGMENT
    assert_disjoint(fragments(emulator), size)  # every byte once, in the one session
    # The bounds: the lease, a reconcile run and the task's start (a new S3 client, a TLS
    # handshake: about 1.5 s), then the fragments left, with room for a busy 2-core machine.
    taken_over = takeover.monotonic - cut_at
    takeover_bound = LEASE + RECONCILE_INTERVAL + 8
    done_bound = taken_over + len(resumed) * (LATENCY + 0.5) + 5
    print(
        f"\nPOST answered to the held fragment {cut_at - started:.1f} s; after the cut: lease over in "
        f"{lease_ends - cut_wall:.1f} s, {other} asked the session in {taken_over:.1f} s (bound "
        f"{takeover_bound:.1f} s) and stored the file ({len(resumed)} fragments left) in {took:.1f} s "
        f"(bound {done_bound:.1f} s)"
    )
    assert taken_over < takeover_bound and took < done_bound

    (kept,) = emulator.files()
    assert (kept.size, kept.sha256.lower()) == (size, hashlib.sha256(data).hexdigest())
    assert kept.quickxorhash == quickxorhash_b64(data) == stored["quickxorhash"]
    assert stored["remote_id"] == kept.item_id
    assert stored["attempts"] == 2 and stored["staged_name"] == ""
    assert wait_for(lambda: task_outcomes(site, other), what=f"{other}'s task to end") == ["stored"]
    (channel,) = site.db.rows("SELECT stored_bytes FROM channels_channel")
    assert channel["stored_bytes"] == size  # counted once
    wait_for(lambda: site.s3.keys(STAGING_PREFIX) == set(), what="the staged object to be removed")

    # The cut host comes back: its late answer arrives and it must stop there.
    site.network[holder].reconnect()
    back_at = time.monotonic()
    wait_for(lambda: task_outcomes(site, holder), timeout=60, what=f"{holder}'s task to end once reconnected")
    print(f"{holder}'s task ended {time.monotonic() - back_at:.1f} s after its link came back")
    assert site.file_row() == stored  # its progress was refused: the row is as it was
    assert task_outcomes(site, holder) == ["taken over"]
    assert [r for r in emulator.requests if r.monotonic > back_at] == []  # it sent Graph nothing more
    creates = [r for r in emulator.requests if r.path.endswith(":/createUploadSession")]
    assert len(creates) == 1  # one session, ever
    assert emulator.upload_sessions() == []
    assert [f.item_id for f in emulator.files()] == [kept.item_id]

    # What a person sees: the link gives the file, from OneDrive now, through the web host.
    served = site.http("GET", src, verify=emulator.ca_pem_path)
    assert served.status_code == 200 and served.content == data
