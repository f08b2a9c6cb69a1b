"""The open-loop load of bench/library_load.py (asyncio + httpx, over https through nginx).

Arrivals are one Poisson process per run step whose rate is the sum of every library's
peak-hour rates (bench/load_model.py) times the step's multiple; each arrival picks its
library and request type in proportion to their rates and runs as its own task, so a slow
answer never delays the next arrival (latency under load is honest; a closed loop would
slow its own clients down instead). Latency counts from the arrival's scheduled time, so
a generator that falls behind shows in the figures too (its lag is reported).

Each simulated visitor comes from its own loopback address (127.1.x.y): nginx's and the
application's per-address limits (login, search bursts) count each visitor apart, as they
would real ones. Cookies are kept per visitor by hand (the `__Host-` session and CSRF
cookies); TLS uses the library's host name as SNI and Host header.

- search:  GET /search?q=… (title fragments of 2+ characters and two-word queries
           drawn from the catalogue, bench/search_bench.py)
- record:  GET /records/<id>
- login:   GET /login (form and CSRF cookie), then POST /login (timed): a real session;
           the browser then lands on /my (timed as a My Library page)
- my:      GET /my, /my/loans or /my/holds of a logged-in visitor
- reserve: POST /records/<id>/hold (htmx, CSRF token) from a logged-in visitor
- renew:   POST /my/loans/<id>/renew (htmx, CSRF token), each loan once
A reservation or renewal the rules refuse (422: limit reached, already reserved, reserved
by others) is a correct answer, counted as refused, not as an error.
"""

from __future__ import annotations

import asyncio
import random
import re
import ssl
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import quote

import httpx

from bench import load_model
from bench.load_data import Library, Manifest

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ADDRESSES = 2048  # visitors' loopback addresses
TIMEOUT = 30.0


class _NoCookies(DefaultCookiePolicy):
    """Cookies are kept per visitor by hand, never in the shared client's jar."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False


@dataclass
class Session:
    library: Library
    cookie: str
    csrf: str
    address: int
    loans: list[int]
    reserved: set[int] = field(default_factory=set)


@dataclass
class Outcome:
    latency_ms: list[float] = field(default_factory=list)
    errors: int = 0
    refused: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_statuses: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class StepResult:
    multiple: float
    seconds: float
    offered: dict[str, float]
    outcomes: dict[str, Outcome]
    lag_ms: list[float]
    unfinished: int


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _cookies(response: httpx.Response) -> dict[str, str]:
    out = {}
    for raw in response.headers.get_list("set-cookie"):
        name, _, rest = raw.partition("=")
        out[name.strip()] = rest.split(";", 1)[0]
    return out


class Driver:
    def __init__(
        self, base: str, tls: ssl.SSLContext, manifest: Manifest, libraries: int, seed: int = 1
    ) -> None:
        self.base = base
        # The load of `libraries` libraries, over the libraries the database has (fewer
        # only when the schema has no tenancy: then all of it goes to library 1).
        self.libraries = libraries
        self.tls = tls
        self.manifest = manifest
        self.rng = random.Random(seed)
        self.clients: dict[int, httpx.AsyncClient] = {}
        self.sessions: dict[int, list[Session]] = {lib.id: [] for lib in manifest.library}
        self.next_patron: dict[int, int] = {lib.id: 0 for lib in manifest.library}
        self.outcomes: dict[str, Outcome] = {}
        # Fragments of two characters or more, and two-word queries: a one-character query
        # (often a kana particle) is search_bench.py's worst case, not what visitors type.
        self.queries = [q for q in manifest.queries if len(q.replace(" ", "")) >= 2]

    def client(self, address: int) -> httpx.AsyncClient:
        found = self.clients.get(address)
        if found is None:
            ip = f"127.1.{address // 250}.{address % 250 + 1}"
            transport = httpx.AsyncHTTPTransport(verify=self.tls, local_address=ip)
            found = httpx.AsyncClient(
                base_url=self.base,
                transport=transport,
                timeout=TIMEOUT,
                cookies=CookieJar(policy=_NoCookies()),
            )
            self.clients[address] = found
        return found

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    async def _get(self, lib: Library, address: int, path: str, cookie: str = "") -> httpx.Response:
        headers = {"Host": lib.host}
        if cookie:
            headers["Cookie"] = cookie
        return await self.client(address).get(
            path, headers=headers, extensions={"sni_hostname": lib.host}
        )

    async def _post(
        self, lib: Library, address: int, path: str, data: dict[str, str], cookie: str, htmx: bool
    ) -> httpx.Response:
        headers = {"Host": lib.host, "Cookie": cookie}
        if htmx:
            headers["HX-Request"] = "true"
        return await self.client(address).post(
            path, data=data, headers=headers, extensions={"sni_hostname": lib.host}
        )

    def _record(
        self, kind: str, started: float, ok: bool, status: str, refused: bool = False
    ) -> None:
        outcome = self.outcomes.setdefault(kind, Outcome())
        outcome.statuses[status] += 1
        if not ok:
            outcome.errors += 1
            outcome.error_statuses[status] += 1
            return
        if refused:
            outcome.refused += 1
        outcome.latency_ms.append((time.monotonic() - started) * 1000)

    # --- the request types ------------------------------------------------------------

    async def search(self, lib: Library, started: float) -> None:
        q = self.rng.choice(self.queries)
        r = await self._get(lib, self.rng.randrange(ADDRESSES), f"/search?q={quote(q)}")
        self._record("search", started, r.status_code == 200, str(r.status_code))

    async def record(self, lib: Library, started: float) -> None:
        work = self.rng.randint(1, self.manifest.max_work_id)
        r = await self._get(lib, self.rng.randrange(ADDRESSES), f"/records/{work}")
        self._record("record", started, r.status_code == 200, str(r.status_code))

    async def login(
        self, lib: Library, started: float | None, timed: bool = True
    ) -> Session | None:
        patrons = lib.web_patrons
        n = self.next_patron[lib.id]
        self.next_patron[lib.id] = n + 1
        card, loans = patrons[n % len(patrons)]
        address = (lib.id * 7919 + n) % ADDRESSES
        form = await self._get(lib, address, "/login")
        token = CSRF.search(form.text)
        seed = _cookies(form)
        if form.status_code != 200 or token is None:
            if timed:
                self._record(
                    "login", started or time.monotonic(), False, f"form {form.status_code}"
                )
            return None
        cookie = "; ".join(f"{k}={v}" for k, v in seed.items())
        posted_at = time.monotonic() if started is None else started
        r = await self._post(
            lib,
            address,
            "/login",
            {"card": card, "password": self.manifest.password, "csrf_token": token[1]},
            cookie,
            htmx=False,
        )
        session_cookie = {k: v for k, v in _cookies(r).items() if "session" in k}
        ok = r.status_code == 303 and bool(session_cookie)
        if timed:
            self._record("login", posted_at, ok, str(r.status_code))
        if not ok:
            return None
        cookie = "; ".join(f"{k}={v}" for k, v in session_cookie.items())
        landed_at = time.monotonic()
        page = await self._get(lib, address, "/my", cookie)
        token = CSRF.search(page.text)
        if timed:
            self._record("my", landed_at, page.status_code == 200, str(page.status_code))
        if page.status_code != 200 or token is None:
            return None
        session = Session(lib, cookie, token[1], address, list(loans))
        self.sessions[lib.id].append(session)
        return session

    def _session(self, lib: Library, need_loans: bool = False) -> Session | None:
        pool = self.sessions[lib.id]
        if need_loans:
            pool = [s for s in pool if s.loans]
        return self.rng.choice(pool) if pool else None

    async def my(self, lib: Library, started: float) -> None:
        session = self._session(lib)
        if session is None:
            self._record("my", started, False, "no session")
            return
        path = self.rng.choice(("/my", "/my/loans", "/my/holds"))
        r = await self._get(lib, session.address, path, session.cookie)
        self._record("my", started, r.status_code == 200, str(r.status_code))

    async def reserve(self, lib: Library, started: float) -> None:
        session = self._session(lib)
        if session is None:
            self._record("reserve", started, False, "no session")
            return
        # Reservations go to wanted titles: the first tenth of the catalogue by popularity.
        work = self.rng.randint(1, max(1, self.manifest.max_work_id // 10))
        session.reserved.add(work)
        r = await self._post(
            lib,
            session.address,
            f"/records/{work}/hold",
            {"pickup": self.rng.choice(lib.branches), "csrf_token": session.csrf},
            session.cookie,
            htmx=True,
        )
        self._record(
            "reserve",
            started,
            r.status_code in (200, 422),
            str(r.status_code),
            r.status_code == 422,
        )

    async def renew(self, lib: Library, started: float) -> None:
        session = self._session(lib, need_loans=True)
        if session is None:  # every logged-in visitor renewed everything: a new one logs in
            session = await self.login(lib, None, timed=False)
            if session is None or not session.loans:
                self._record("renew", started, False, "no session")
                return
        loan = session.loans.pop()
        r = await self._post(
            lib,
            session.address,
            f"/my/loans/{loan}/renew",
            {"csrf_token": session.csrf},
            session.cookie,
            htmx=True,
        )
        self._record(
            "renew", started, r.status_code in (200, 422), str(r.status_code), r.status_code == 422
        )

    async def _one(self, kind: str, lib: Library, started: float) -> None:
        try:
            if kind == "login":
                await self.login(lib, started)
            else:
                await getattr(self, kind)(lib, started)
        except (httpx.HTTPError, OSError) as error:
            self._record(kind, started, False, type(error).__name__)

    async def warm_up(self, per_library: int) -> list[float]:
        """Log in `per_library` visitors per library, one at a time (untimed in the steps);
        returns the login latencies, the idle baseline (one argon2 verification each)."""
        idle = []
        for lib in self.manifest.library:
            for _ in range(per_library):
                t0 = time.monotonic()
                if await self.login(lib, None, timed=False) is not None:
                    idle.append((time.monotonic() - t0) * 1000)
        return idle

    async def step(self, multiple: float, seconds: float) -> StepResult:
        rates = load_model.peak_rates()
        streams = [(lib, kind) for lib in self.manifest.library for kind in load_model.TYPES]
        # Every login lands on /my (a My Library page): the other My Library pages arrive
        # on their own at the rest of the type's rate.
        own = {**rates, "my": max(0.0, rates["my"] - rates["login"])}
        weights = [own[kind] for _, kind in streams]
        total = sum(weights) * multiple * self.libraries / len(self.manifest.library)
        self.outcomes = {}
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        lag = []
        start = loop.time() + 0.05
        at = start
        end = start + seconds
        while True:
            at += self.rng.expovariate(total)
            if at >= end:
                break
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            lag.append(max(0.0, loop.time() - at) * 1000)
            lib, kind = self.rng.choices(streams, weights=weights)[0]
            # time.monotonic() and the loop's clock are the same clock on Linux.
            task = asyncio.create_task(self._one(kind, lib, at))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        unfinished = 0
        if tasks:
            _, pending = await asyncio.wait(set(tasks), timeout=TIMEOUT)
            unfinished = len(pending)
            for task in pending:
                task.cancel()
        offered = {kind: rates[kind] * multiple * self.libraries for kind in load_model.TYPES}
        return StepResult(multiple, seconds, offered, dict(self.outcomes), lag, unfinished)


MIN_REQUESTS = 20  # a step with fewer answers judges nothing


def passes(result: StepResult, target_ms: float, login_floor_ms: float = 0.0) -> bool:
    """p95 within `target_ms` for every type (login: over `login_floor_ms`), under 1 % errors."""
    answered = sum(len(o.latency_ms) + o.errors for o in result.outcomes.values())
    if answered < MIN_REQUESTS:
        return False
    for kind in load_model.TYPES:
        outcome = result.outcomes.get(kind)
        if outcome is None:
            continue
        done = len(outcome.latency_ms) + outcome.errors
        if done and outcome.errors / done > 0.01:
            return False
        limit = target_ms + (login_floor_ms if kind == "login" else 0.0)
        if outcome.latency_ms and percentile(outcome.latency_ms, 95) > limit:
            return False
    return result.unfinished == 0
