"""What a request tells about its client: the address (for throttling) and a coarse device
name (for the patron's list of logged-in devices). Neither is ever logged."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def address(request: Request) -> str:
    """The client's address: behind a trusted proxy, the one web.forwarded resolved."""
    return request.client.host if request.client else "unknown"


def forwarded_client(peer: str, forwarded_for: str, trusted: Iterable[Network]) -> str:
    """The client of a request that came from `peer` with X-Forwarded-For `forwarded_for`
    (comma-separated hops, the nearest last): the right-most hop that is not a trusted
    proxy. A peer that is not trusted is the client, whatever it sent; so is a trusted one
    that forwarded nothing. Hops left of the first untrusted one were written by the client
    and may be anything, so they are never read. If every hop is a trusted proxy, the
    left-most is the client (a request from the proxy's own host)."""
    trusted = tuple(trusted)
    if not in_networks(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not in_networks(hop, trusted):
            return hop if _is_ip(hop) else "unknown"
    return hops[0] if hops else peer


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def in_networks(address: str, networks: Iterable[Network]) -> bool:
    """Whether `address` lies in one of `networks`; an address that is not an IP (the
    "unknown" of a request without a client) lies in none."""
    networks = tuple(networks)
    if not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


_BROWSERS = (
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "Mac"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device(request: Request) -> str:
    agent = request.headers.get("user-agent", "")
    browser = next((name for marker, name in _BROWSERS if marker in agent), "")
    system = next((name for marker, name in _SYSTEMS if marker in agent), "")
    return " / ".join(part for part in (browser, system) if part) or "?"
