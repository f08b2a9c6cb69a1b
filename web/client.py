"""What a request tells about its client: the address (for throttling) and a coarse device
name (for the patron's list of logged-in devices). Neither is ever logged."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import Request


def address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def in_networks(
    address: str, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
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
