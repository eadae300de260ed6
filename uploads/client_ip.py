"""The address a request came from, believing X-Forwarded-For only from proxies the deployer trusts.

Anyone can send an X-Forwarded-For header. It says something only when the
direct peer (REMOTE_ADDR) is one of IMGBED_TRUSTED_PROXIES: then the chain is
walked from the right, each trusted proxy's entry skipped, and the first
address no trusted proxy vouches for is the client. Entries to the left of it
were written by the client itself and are ignored.
"""

import functools
import ipaddress

from django.conf import settings

# In IMGBED_TRUSTED_PROXIES: a peer without an IP address (a front server on a Unix socket).
UNIX_SOCKET = "unix"


def parse_networks(entries) -> tuple:
    """ip_network objects for IPs and CIDR ranges (ValueError naming a bad entry); "unix" passes through."""
    networks = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        if entry.lower() == UNIX_SOCKET:
            networks.append(UNIX_SOCKET)
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or a CIDR range (like 10.0.0.0/8).") from None
    return tuple(networks)


@functools.lru_cache(maxsize=16)
def _trusted(entries: tuple) -> tuple:
    return parse_networks(entries)


def parse_ip(value: str | None):
    """An ip_address from a header or socket value ("1.2.3.4", "1.2.3.4:5678", "[2001:db8::1]:443"), or None.

    An IPv4 address mapped into IPv6 (a dual-stack socket's ::ffff:1.2.3.4) is taken as the IPv4 one."""
    if not value:
        return None
    value = value.strip().strip('"')
    if value.startswith("["):  # [v6] or [v6]:port
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value.split("%", 1)[0])  # a zone index (fe80::1%eth0) is dropped
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def in_networks(address, networks) -> bool:
    if address is None:
        return UNIX_SOCKET in networks
    return any(
        network != UNIX_SOCKET and address.version == network.version and address in network
        for network in networks
    )


def client_ip(request) -> str | None:
    """The client's IP address as a string, or None when there is none (a Unix socket, no proxy trusted)."""
    trusted = _trusted(tuple(settings.IMGBED_TRUSTED_PROXIES))
    peer = parse_ip(request.META.get("REMOTE_ADDR"))
    if not trusted or not in_networks(peer, trusted):
        return str(peer) if peer is not None else None
    # The peer is a trusted proxy: each entry, from the right, is what the hop after it saw.
    client = peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for entry in reversed(forwarded.split(",")):
        if not entry.strip():
            continue
        address = parse_ip(entry)
        if address is None:
            break  # garbage (or "unknown"): the last hop we could read is as far as we can trust
        client = address
        if not in_networks(address, trusted):
            break
    return str(client) if client is not None else None
