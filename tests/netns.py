"""Linux network namespaces standing in for machines on a private network.

`Network` makes a services namespace holding a bridge (the switch) and one
namespace per host, each joined to the bridge by a veth pair, all named after
this process so runs never meet. Addresses come from 198.18.0.0/15, the block
reserved for network tests, and live only inside the namespaces: nothing is
added to the machine's own namespace, and no namespace has a default route, so
a packet for any other address fails at once (network unreachable) instead of
leaving. IPv6 is off in them (no link-local addresses either).

A host is cut off by taking its port on the bridge down (the cable pulled at
the switch): its processes keep running and their connections stay open, with
the packets going nowhere, until the port comes back up.

This process stays in the machine's namespace; `Network.call` runs a function
in a thread that has entered the services namespace, so its sockets (a test's
HTTP and database clients, a server started there) are on the network.
"""

import ctypes
import os
import re
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

SERVICES_ADDRESS = "198.18.0.1"
CLONE_NEWNET = 0x40000000
# Retransmissions back off to at most this (ms) in the namespaces, so a connection that
# waited through a cut goes on within this long of the link coming back.
RTO_MAX_MS = 2000

_libc = ctypes.CDLL(None, use_errno=True)


def _ip(*args, check=True) -> subprocess.CompletedProcess:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done


def unavailable() -> str | None:
    """Why namespaces cannot be made on this machine, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN and CAP_SYS_ADMIN); this test runs as a user"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    probe = f"imgbed-{os.getpid()}-probe"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    try:
        veth = _ip(
            *f"link add name v0 netns {probe} type veth peer name v1 netns {probe}".split(), check=False
        )
        if veth.returncode:
            return f"a veth pair cannot be made: {veth.stderr.strip()}"
        bridge = _ip("-n", probe, "link", "add", "br0", "type", "bridge", check=False)
        if bridge.returncode:
            return f"a bridge cannot be made: {bridge.stderr.strip()}"
    finally:
        _ip("netns", "del", probe, check=False)
    return None


def _enter(netns: str) -> None:
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into {netns}: {os.strerror(errno)}")
    finally:
        os.close(fd)


@dataclass
class Host:
    """One namespace: a machine on the network."""

    role: str  # "services", "web", "worker-1"...
    netns: str
    address: str
    port: str | None  # its port on the bridge (in the services namespace); None for services
    services_netns: str

    def command(self, args) -> list[str]:
        """`args` run inside this host (`ip netns exec` execs them: the pid is theirs)."""
        return ["ip", "netns", "exec", self.netns, *map(str, args)]

    def pids(self) -> list[int]:
        done = _ip("netns", "pids", self.netns, check=False)
        return [int(p) for p in done.stdout.split()]

    def routes(self) -> list[str]:
        return _ip("-n", self.netns, "-4", "route", "show").stdout.strip().splitlines()

    def addresses(self) -> list[str]:
        """Every address of every interface, IPv4 and IPv6, as `ip -br addr` lists them."""
        lines = _ip("-n", self.netns, "-br", "address", "show").stdout.strip().splitlines()
        return [address for line in lines for address in line.split()[2:]]

    def sockets(self, *, listening: bool) -> list[tuple[str, str]]:
        """(local, peer) address:port of the TCP sockets in this host, listening or connected."""
        state = ["-l"] if listening else ["state", "established"]
        done = subprocess.run(
            self.command(["ss", "-Htn", *state]), capture_output=True, text=True, check=True, timeout=30
        )
        return [tuple(line.split()[-2:]) for line in done.stdout.splitlines() if line.strip()]

    def route_to(self, address: str) -> subprocess.CompletedProcess:
        return _ip("-n", self.netns, "route", "get", address, check=False)

    def cut(self) -> None:
        """Pull the cable: the host's port on the bridge goes down."""
        _ip("-n", self.services_netns, "link", "set", self.port, "down")

    def reconnect(self) -> None:
        _ip("-n", self.services_netns, "link", "set", self.port, "up")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep() -> list[str]:
    """Remove the namespaces of runs whose process is gone (killed before it could clean up)."""
    listed = _ip("netns", "list", check=False).stdout.split()
    stale = [n for n in listed if (m := re.fullmatch(r"imgbed-(\d+)-\w+", n)) and not _alive(int(m.group(1)))]
    for netns in stale:
        for pid in Host("", netns, "", None, "").pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _ip("netns", "del", netns, check=False)
    return stale


class Network:
    """A services namespace with the bridge, and `roles` as hosts on it (198.18.0.11, .12, ...)."""

    def __init__(self, roles, tag: str | None = None):
        tag = tag or f"imgbed-{os.getpid()}"
        sweep()
        self._made: list[str] = []
        self._pool: ThreadPoolExecutor | None = None
        try:
            self.services = self._namespace("services", f"{tag}-svc", SERVICES_ADDRESS, None)
            svc = self.services.netns
            _ip("-n", svc, "link", "add", "br0", "type", "bridge")
            _ip("-n", svc, "address", "add", f"{SERVICES_ADDRESS}/24", "dev", "br0")
            _ip("-n", svc, "link", "set", "br0", "up")
            self.hosts: dict[str, Host] = {}
            for number, role in enumerate(roles, start=1):
                port = f"p{number}"
                host = self._namespace(role, f"{tag}-h{number}", f"198.18.0.{10 + number}", port)
                _ip(*f"link add name eth0 netns {host.netns} type veth peer name {port} netns {svc}".split())
                _ip("-n", svc, "link", "set", port, "master", "br0", "up")
                _ip("-n", host.netns, "address", "add", f"{host.address}/24", "dev", "eth0")
                _ip("-n", host.netns, "link", "set", "eth0", "up")
                self.hosts[role] = host
            self._pool = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="in-services", initializer=_enter, initargs=(svc,)
            )
            self.call(lambda: None)  # enters now: a failure shows here, not in the first real call
        except BaseException:
            self.close()
            raise

    def _namespace(self, role, netns, address, port) -> Host:
        _ip("netns", "add", netns)
        self._made.append(netns)
        sysctls = ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]
        if os.path.exists("/proc/sys/net/ipv4/tcp_rto_max_ms"):  # Linux 6.15 and later
            sysctls.append(f"net.ipv4.tcp_rto_max_ms={RTO_MAX_MS}")
        subprocess.run(
            ["ip", "netns", "exec", netns, "sysctl", "-q", "-w", *sysctls], check=True, capture_output=True
        )
        _ip("-n", netns, "link", "set", "lo", "up")
        return Host(role, netns, address, port, self._made[0])

    def __getitem__(self, role) -> Host:
        return self.services if role == "services" else self.hosts[role]

    def all(self) -> list[Host]:
        return [self.services, *self.hosts.values()]

    def call(self, fn, *args, **kwargs):
        """fn(*args, **kwargs) in a thread inside the services namespace; its result."""
        return self._pool.submit(fn, *args, **kwargs).result()

    def stragglers(self) -> dict[str, list[int]]:
        """Processes still running in the namespaces (this one never counts: it stays outside)."""
        found = {}
        for netns in self._made:
            pids = [p for p in Host("", netns, "", None, "").pids() if p != os.getpid()]
            if pids:
                found[netns] = pids
        return found

    def close(self) -> None:
        """Kill whatever still runs in the namespaces, then remove them (their links and bridge go with them)."""
        deadline = time.monotonic() + 10
        while (left := self.stragglers()) and time.monotonic() < deadline:
            for pids in left.values():
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            time.sleep(0.05)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for netns in reversed(self._made):
            _ip("netns", "del", netns, check=False)
        self._made.clear()

    def __enter__(self) -> "Network":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
