"""The site on several machines, the machines being network namespaces (tests.netns).

The services host runs what a deployment's hosts share: a PostgreSQL cluster of
its own (initdb into a temporary folder, run as the postgres user), a Redis
server and an S3 server (moto, for staging), each listening on the services
host's 198.18 address only. The other hosts run the Procfile's lines, as a
deployment would, from this checkout, each with a data directory of its own.
Every process is started with `ip netns exec` in a session of its own and
marked (tests.processes), so `stop` finds it and whatever it started.
"""

import glob
import ipaddress
import os
import pwd
import re
import shutil
import sys
import tempfile
from pathlib import Path

from tests.processes import Spawned

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_PORT = 5432
REDIS_PORT = 6379
TEST_NETWORK = ipaddress.ip_network("198.18.0.0/15")


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def unavailable() -> str | None:
    """Why the services cannot run here, or None."""
    if _postgres_bin() is None:
        return "PostgreSQL's server programs are not installed (/usr/lib/postgresql/*/bin/initdb)"
    if shutil.which("redis-server") is None:
        return "redis-server is not installed"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed: PostgreSQL must run as its own user"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no postgres user to run the PostgreSQL cluster as"
    return None


def procfile(kind: str, optional: bool = False) -> str:
    """The Procfile's `kind` line; `optional`: one of the lines it leaves commented out (beat
    as a process of its own), as someone uncommenting it would run it."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if optional:
            line = line.removeprefix("#").strip()
        name, sep, command = line.partition(":")
        if sep and name.strip() == kind:
            return command.strip()
    raise AssertionError(f"no {kind} line in the Procfile")


# What a process on a fresh machine has besides its settings. Nothing else of this
# process's environment is passed on (no proxies, no addresses of the machine's own services).
_MACHINE_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")


def host_env(**settings) -> dict:
    """The environment of a process on a host: the machine's basics and `settings`."""
    env = {k: os.environ[k] for k in _MACHINE_VARIABLES if k in os.environ}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update({k: str(v) for k, v in settings.items()})
    return env


def temp_dir(workdir: Path) -> Path:
    """A temporary folder of the machine's own, in `workdir` (so removed with it: processes killed
    at the end leave their temporary files there, not in the real /tmp)."""
    path = workdir / "tmp"
    path.mkdir(exist_ok=True)
    return path


def addresses_named(environ: dict) -> set[str]:
    """Every IP address and host name the environment's values point at (URLs, JSON, bare IPs)."""
    text = "\n".join(environ.values())
    found = set(re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", text))
    found |= set(re.findall(r"://(?:[^@/\s\"']*@)?\[?([^/:\s\"'\]]+)", text))
    return found


def outside_test_network(names, loopback_too=False) -> set[str]:
    """The names that are not literal addresses in 198.18.0.0/15 (host names count as outside).
    `loopback_too`: a host's own loopback counts as inside (each namespace has its own)."""
    outside = set()
    for name in names:
        try:
            address = ipaddress.ip_address(name)
            if address in TEST_NETWORK or (loopback_too and address.is_loopback):
                continue
        except ValueError:
            pass
        outside.add(name)
    return outside


def environ_of(pid: int) -> dict:
    with open(f"/proc/{pid}/environ", "rb") as fh:
        pairs = [item.split(b"=", 1) for item in fh.read().split(b"\0") if b"=" in item]
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


class Process(Spawned):
    """A command run inside a host."""

    def __init__(self, host, args, env, log_path):
        self.host = host
        super().__init__(host.command(args), env, ROOT, log_path)


def wait_for_log(process: Spawned, marker: str, timeout: float = 60) -> None:
    process.wait_until(lambda: marker in process.output(), timeout, f"{marker!r} in {process.log_path.name}")


class Postgres:
    """A private cluster on `host`'s address, trusting only the test network."""

    def __init__(self, network, host, workdir: Path):
        self.address = host.address
        self._network = network
        self.process = None
        # A folder of its own, not in `workdir`: the postgres user must be able to reach it.
        self.root = Path(tempfile.mkdtemp(prefix="imgbed-postgres-"))
        try:
            self._start(host, workdir)
        except BaseException:
            self.stop()
            raise

    def _start(self, host, workdir):
        bin_dir = _postgres_bin()
        postgres = pwd.getpwnam("postgres")
        os.chown(self.root, postgres.pw_uid, postgres.pw_gid)
        data = self.root / "data"
        as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
        init = Spawned(
            [*as_postgres, bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync"]
            + ["-E", "UTF8", "--locale=C"],
            host_env(TMPDIR=self.root),
            self.root,
            workdir / "initdb.log",
        )
        try:
            init.popen.wait(120)
        finally:
            init.stop()
        if init.popen.returncode:
            raise RuntimeError(f"initdb failed:\n{init.output()}")
        # Only the test network may connect (no Unix socket either: nothing but that address).
        (data / "pg_hba.conf").write_text("host all all 198.18.0.0/24 trust\n")
        self.process = Process(
            host,
            [*as_postgres, bin_dir / "postgres", "-D", data, "-c", f"listen_addresses={self.address}"]
            + ["-c", f"port={POSTGRES_PORT}", "-c", "unix_socket_directories=", "-c", "fsync=off"]
            + ["-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            host_env(TMPDIR=self.root),
            workdir / "postgres.log",
        )
        self.process.wait_until(self._answers, 60, "PostgreSQL to accept connections")
        self._network.call(self._execute, "postgres", "CREATE DATABASE imgbed")

    def url(self, database="imgbed") -> str:
        return f"postgres://postgres@{self.address}:{POSTGRES_PORT}/{database}"

    def _conninfo(self, database):
        return f"host={self.address} port={POSTGRES_PORT} user=postgres dbname={database} connect_timeout=5"

    def _answers(self) -> bool:
        import psycopg

        try:
            self._network.call(lambda: psycopg.connect(self._conninfo("postgres")).close())
        except psycopg.OperationalError:
            return False
        return True

    def _execute(self, database, sql):
        import psycopg

        with psycopg.connect(self._conninfo(database), autocommit=True) as conn:
            conn.execute(sql)

    def client(self) -> "Database":
        return Database(self._network, self._conninfo("imgbed"))

    def stop(self):
        if self.process is not None:
            self.process.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class Database:
    """Queries from the services host, on one connection kept in its thread."""

    def __init__(self, network, conninfo):
        self._network = network
        self._conninfo = conninfo
        self._conn = None

    def rows(self, sql, params=()) -> list[dict]:
        return self._network.call(self._rows, sql, params)

    def _rows(self, sql, params):
        import psycopg
        from psycopg.rows import dict_row

        if self._conn is None:
            self._conn = psycopg.connect(self._conninfo, autocommit=True, row_factory=dict_row)
        return self._conn.execute(sql, params).fetchall()

    def close(self):
        if self._conn is not None:
            self._network.call(self._conn.close)
            self._conn = None


class Redis:
    def __init__(self, host, workdir: Path):
        self.address = host.address
        self.process = Process(
            host,
            ["redis-server", "--bind", self.address, "--port", REDIS_PORT, "--save", "", "--appendonly", "no"]
            + ["--protected-mode", "no", "--dir", workdir],
            host_env(TMPDIR=temp_dir(workdir)),
            workdir / "redis.log",
        )
        wait_for_log(self.process, "Ready to accept connections")

    def url(self, db: int) -> str:
        return f"redis://{self.address}:{REDIS_PORT}/{db}"

    def stop(self):
        self.process.stop()


class S3:
    """moto (tests.s3server) on the host's address, with one bucket."""

    bucket = "imgbed"
    region = "us-east-1"
    access_key = "IMGBEDHOSTSACCESSKEY"
    secret_key = "three-hosts/secret+0123456789abcdefghijk"

    def __init__(self, network, host, workdir: Path):
        """Starts it; `ready()` waits for it (moto takes seconds to import: other things start meanwhile)."""
        self._network = network
        self._address = host.address
        self.url = None
        self.process = Process(
            host,
            [sys.executable, "-m", "tests.s3server", "--host", host.address],
            host_env(TMPDIR=temp_dir(workdir)),
            workdir / "s3.log",
        )

    def ready(self) -> "S3":
        found = self.process.wait_until(
            lambda: re.search(r"^port (\d+)$", self.process.output(), re.MULTILINE),
            60,
            "the S3 server's port",
        )
        self.url = f"http://{self._address}:{found.group(1)}"
        self._network.call(lambda: self._client().create_bucket(Bucket=self.bucket))
        return self

    def _client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required"),
        )

    def keys(self, prefix: str) -> set[str]:
        def listed():
            answer = self._client().list_objects_v2(Bucket=self.bucket, Prefix=f"{prefix}/")
            return {entry["Key"] for entry in answer.get("Contents", ())}

        return self._network.call(listed)

    def staging_options(self, prefix: str) -> dict:
        """IMGBED_STAGING_OPTIONS as docs/staging.md describes them."""
        assert self.url, "the S3 server's address is known once ready() has returned"
        return {
            "bucket_name": self.bucket,
            "location": prefix,
            "endpoint_url": self.url,
            "region_name": self.region,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "addressing_style": "path",
        }

    def stop(self):
        self.process.stop()


def run(host, args, env, log_path: Path, timeout: float = 300) -> str:
    """A command on `host`, to its end; its output. Fails with the output if it fails."""
    process = Process(host, args, env, log_path)
    try:
        process.popen.wait(timeout)
    finally:
        process.stop()
    if process.popen.returncode:
        raise AssertionError(f"{' '.join(map(str, args))} failed on {host.role}:\n{process.output()}")
    return process.output()
