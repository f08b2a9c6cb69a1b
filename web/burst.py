"""Request bursts from one client address, slowed in memory: a token bucket per address.

Anonymous searches (and the availability API) are cheap to send and dear to answer; a bot
firing hundreds a second from one address slowed the catalogue for everyone. The logins'
throttle (db/throttle.py) keeps its counters in the database so that they hold across
workers, but that is a write per attempt: on the search page, the site's busiest, that
would cost more than the bursts it stops. So each worker process keeps its own buckets.

A bucket holds `burst` tokens and gains `per_minute` tokens a minute; a request takes one,
and an empty bucket answers 429 with the seconds until the next token (Retry-After).

Several workers (`shiori serve --workers W`): each has its own buckets, and the kernel hands
each new connection to any worker, so one address may get up to W × burst requests in a
burst and W × per_minute a minute before every worker refuses it; a client on one
keep-alive connection meets one worker's limit. Set the numbers per worker with that in
mind. A restart forgives everyone.

Several hosts behind one proxy (issue 21): the buckets stay per process by design, so the
limit is per worker on each host (H hosts × W workers × burst at most). Sharing them through
the database would put a write on every anonymous search, the cost this module avoids; the
proxy's limit_req (deploy/) is the outer bound, and a restart or a new host only forgives.

Addresses are keys as the server sees them: behind the nginx of deploy/ that is the
client's (X-Forwarded-For is believed from SHIORI_TRUSTED_PROXIES only, web/forwarded.py);
IPv6 clients are counted per /64, the block one customer usually has. At most MAX_ADDRESSES
buckets are kept; the least recently used are dropped first (that forgives an address, it
never refuses one).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection

from starlette.requests import Request
from starlette.responses import Response

from web import client, errors, sessions

MAX_ADDRESSES = 20_000


def client_key(address: str) -> str:
    """The key an address is counted under: itself, or its /64 for IPv6."""
    if ":" not in address:  # IPv4 as the server writes it (or a name): as it is, unparsed
        return address
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class Buckets:
    """Token buckets by client address. Thread-safe: handlers run in worker threads."""

    def __init__(
        self,
        burst: int,
        per_minute: int,
        exempt: Collection[ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.rate = per_minute / 60.0  # tokens a second
        self.exempt = tuple(exempt)
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when

    @property
    def enabled(self) -> bool:
        return self.burst > 0

    def take(self, address: str) -> int:
        """Take a token for `address`: 0 if it may go on, else the whole seconds to wait."""
        if not self.enabled or client.in_networks(address, self.exempt):
            return 0
        key = client_key(address)
        with self._lock:
            now = self.clock()
            tokens, then = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = 0
            else:
                self._buckets[key] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / self.rate) if self.rate > 0 else 3600
            while len(self._buckets) > MAX_ADDRESSES:
                self._buckets.popitem(last=False)
            return wait


def search_refusal(request: Request) -> Response | None:
    """None if this search may go on; else the 429 page (in the page's language) with
    Retry-After. Logged-in patrons are never slowed: their session is looked up only when
    the request carries a session cookie, as the page itself does."""
    buckets: Buckets = request.app.state.search_buckets
    if not buckets.enabled or sessions.current(request) is not None:
        return None
    wait = buckets.take(client.address(request))
    if not wait:
        return None
    response = errors.error_response(request, 429)
    response.headers["Retry-After"] = str(wait)
    return response
