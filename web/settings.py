"""Settings from the environment (SHIORI_*): safe defaults for the embedded demo, hard
failures for unsafe production settings."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from db import queries

ROOT = Path(__file__).resolve().parents[1]
LOCALE_DIR = Path(__file__).resolve().parent / "locale"  # inside the package: installed with it
# Argon2 cost profiles (db.passwords): "test" is the least work argon2 allows, for suites only.
PASSWORD_HASHING = ("standard", "test")
ENVIRONMENTS = ("development", "production")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A configuration that must not start. The message says which variable and why."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    host: str
    port: int
    secret_key: str
    production: bool
    debug: bool
    public_url: str
    data_dir: Path
    branches: tuple[queries.BranchSpec, ...]
    staff_console: bool
    session_idle_minutes: int
    session_absolute_hours: int
    # A login on a library kiosk (web/terminals.py): its idle timeout and, before it, the
    # seconds the countdown dialog is shown; networks whose browsers are all kiosks.
    kiosk_idle_seconds: int
    smtp_host: str
    smtp_port: int
    smtp_sender: str
    smtp_username: str
    smtp_password: str
    smtp_starttls: bool
    # Domains besides SHIORI_SMTP_FROM's that a library's own address may send from.
    smtp_from_domains: frozenset[str]
    search_cache_seconds: int
    hold_limit: int
    hold_shelf_days: int
    password_hashing: str
    # Worker threads per process for each lane of handlers (web/offload.py); argon2 runs at
    # most password_threads computations at once.
    page_threads: int = 16
    search_threads: int = 2
    password_threads: int = 1
    # Days a notice is retried while the SMTP server is down or puts it off (db.queries.mail).
    mail_retry_days: int = queries.MAIL_RETRY_DAYS
    # Days a closed reference question keeps its patron and category (db.reference).
    reference_retention_days: int = 365
    # `shiori serve` (web/serve.py): seconds a worker may take to answer the master's health
    # ping (a worker starting on a busy machine needs more than uvicorn's 5), an idle
    # keep-alive connection is kept, and a stop waits for requests in flight.
    worker_healthcheck_seconds: int = 30
    keep_alive_seconds: int = 5
    graceful_shutdown_seconds: int = 30
    # Days an application (issue 13) waits for the counter before retention deletes it.
    application_days: int = queries.APPLICATION_DAYS
    kiosk_warning_seconds: int = 30
    kiosk_networks: tuple[Network, ...] = ()
    # The Babel catalogues (<dir>/<lang>/LC_MESSAGES/messages.mo): each is a language.
    locale_dir: Path = LOCALE_DIR
    # Bursts of anonymous searches per client address and worker (web/burst.py): a bucket of
    # search_burst searches refilled by search_per_minute; 0 turns it off. Addresses or
    # networks in search_burst_exempt (the library's own terminals behind one address) are
    # never slowed. The availability API has its own bucket.
    search_burst: int = 60
    search_per_minute: int = 30
    search_burst_exempt: tuple[Network, ...] = ()
    api_burst: int = 60
    api_per_minute: int = 60
    # Record addresses per sitemap file (the sitemaps protocol allows at most 50,000).
    sitemap_size: int = 50_000
    # Whether SHIORI_PUBLIC_URL was given; else public_url is the served host and port, and
    # pages with links for other devices (enrolment links) say so.
    public_url_configured: bool = False
    # A PostgreSQL streaming replica for the catalogue's reads (db.engine): "" for none.
    database_read_url: str = ""
    # Reverse proxies whose X-Forwarded-For / -Proto are believed (web/forwarded.py).
    trusted_proxies: tuple[Network, ...] = ()

    @property
    def https(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def connections(self) -> int:
        """Database connections per process: one for each handler thread of every lane."""
        return self.page_threads + self.search_threads + self.password_threads


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(
        f"{name} は true か false で指定してください。 / {name} must be true or false."
    )


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise SettingsError(
            f"{name} は {low}〜{high} の整数で指定してください。 / "
            f"{name} must be a whole number from {low} to {high}."
        )
    return value


def parse_branches(raw: str) -> tuple[queries.BranchSpec, ...]:
    """SHIORI_BRANCHES (and `shiori library add --branches`): "code=名前=English name;code=…"
    (at least one branch)."""
    if not raw.strip():
        return queries.DEFAULT_BRANCHES
    branches = []
    for part in raw.split(";"):
        fields = [f.strip() for f in part.split("=")]
        if len(fields) != 3 or not all(fields) or not fields[0].replace("-", "").isalnum():
            raise SettingsError(
                "SHIORI_BRANCHES は「code=日本語名=English name」を ; で区切って"
                "指定してください。 / "
                "SHIORI_BRANCHES must be 'code=Japanese name=English name' items separated by ';'."
            )
        code, ja, en = fields
        branches.append(queries.BranchSpec(code, queries.Localized.of({"ja": ja, "en": en})))
    if len({b.code for b in branches}) != len(branches):
        raise SettingsError("SHIORI_BRANCHES の code が重複しています。 / Duplicate branch code.")
    return tuple(branches)


def _domains(env: Mapping[str, str], name: str) -> frozenset[str]:
    """Comma-separated mail domains (lib-b.example.jp, ...); "" for none."""
    try:
        return queries.mail_domains(env.get(name, ""))
    except ValueError:
        raise SettingsError(
            f"{name} にはメールのドメイン名（例: lib.example.jp）をカンマで区切って"
            f"指定してください。 / {name} must be mail domain names separated by commas "
            "(lib.example.jp)."
        ) from None


def _networks(env: Mapping[str, str], name: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR networks (192.168.10.0/24, 2001:db8::/48; "" for
    none). Host bits must be zero: 192.168.10.1/24 is more likely a typo than a network."""
    found = []
    for part in env.get(name, "").replace(";", ",").split(","):
        if not part.strip():
            continue
        try:
            found.append(ipaddress.ip_network(part.strip(), strict=True))
        except ValueError:
            raise SettingsError(
                f"{name} は IP アドレスか 192.168.10.0/24 のような CIDR 表記をカンマで区切って"
                f"指定してください（ホスト部は 0）。 / {name} must be IP addresses or CIDR "
                "networks like 192.168.10.0/24, separated by commas (host bits zero)."
            ) from None
    return tuple(found)


def _kiosk_timing(env: Mapping[str, str]) -> tuple[int, int]:
    """(idle, warning) seconds of kiosk logins; the countdown must fit inside the idle time."""
    if env.get("SHIORI_KIOSK_IDLE_MINUTES", ""):
        raise SettingsError(
            "SHIORI_KIOSK_IDLE_MINUTES は SHIORI_KIOSK_IDLE_SECONDS（秒）に変わりました。 / "
            "SHIORI_KIOSK_IDLE_MINUTES was replaced by SHIORI_KIOSK_IDLE_SECONDS (seconds)."
        )
    idle = _int(env, "SHIORI_KIOSK_IDLE_SECONDS", 120, 30, 3600)
    warning = _int(env, "SHIORI_KIOSK_WARNING_SECONDS", 30, 10, 600)
    if warning >= idle:
        raise SettingsError(
            "SHIORI_KIOSK_WARNING_SECONDS は SHIORI_KIOSK_IDLE_SECONDS より短くしてください。 / "
            "SHIORI_KIOSK_WARNING_SECONDS must be shorter than SHIORI_KIOSK_IDLE_SECONDS."
        )
    return idle, warning


def _in_memory(database_url: str) -> bool:
    """`sqlite:///` (no file), `sqlite:///:memory:` and SQLite's URI forms of the same."""
    if not database_url.startswith("sqlite:///"):
        return False
    path, _, query = database_url.removeprefix("sqlite:///").partition("?")
    return (
        path in ("", ":memory:")
        or path.startswith("file::memory:")
        or "mode=memory" in query.split("&")
    )


def served_url(host: str, port: int) -> str:
    """The address `shiori serve` listens on, as a URL: the default public URL. A server on
    every interface (0.0.0.0, ::) is named by its loopback address."""
    if host in ("0.0.0.0", "::", "[::]"):  # noqa: S104 - compared, not bound
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _read_url(env: Mapping[str, str], database_url: str) -> str:
    """SHIORI_DATABASE_READ_URL: a streaming replica of a PostgreSQL primary, or nothing."""
    read_url = env.get("SHIORI_DATABASE_READ_URL", "")
    if not read_url:
        return ""
    if not database_url.startswith("postgresql"):
        raise SettingsError(
            "SHIORI_DATABASE_READ_URL（読み取り用レプリカ）は PostgreSQL でのみ使えます。"
            "SQLite では設定しないでください。 / SHIORI_DATABASE_READ_URL (a read replica) "
            "needs PostgreSQL: unset it with SQLite."
        )
    if not read_url.startswith("postgresql"):
        raise SettingsError(
            "SHIORI_DATABASE_READ_URL は postgresql+psycopg:// で始めてください。 / "
            "SHIORI_DATABASE_READ_URL must start with postgresql+psycopg://."
        )
    return read_url


def load(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    environment = env.get("SHIORI_ENV", "") or "development"
    if environment not in ENVIRONMENTS:
        # A typo ("prod") would otherwise start the demo profile and skip every check below.
        raise SettingsError(
            "SHIORI_ENV は development か production で指定してください。 / "
            "SHIORI_ENV must be development or production."
        )
    production = environment == "production"
    default_db = f"sqlite:///{ROOT / 'var' / 'shiori.db'}"
    database_url = env.get("SHIORI_DATABASE_URL", "") or default_db
    if not database_url.startswith(("sqlite:///", "postgresql")):
        raise SettingsError(
            "SHIORI_DATABASE_URL は sqlite:/// か postgresql+psycopg:// で始めてください。 / "
            "SHIORI_DATABASE_URL must start with sqlite:/// or postgresql+psycopg://."
        )
    if _in_memory(database_url):
        raise SettingsError(
            "SHIORI_DATABASE_URL にはファイルを指定してください（メモリ上のデータベースは"
            "終了時に消えます）。 / SHIORI_DATABASE_URL must name a file: an in-memory "
            "database is lost when the server stops."
        )
    database_read_url = _read_url(env, database_url)
    secret = env.get("SHIORI_SECRET_KEY", "")
    debug = _bool(env, "SHIORI_DEBUG", False)
    port = _int(env, "SHIORI_PORT", 8000, 1, 65535)
    host = env.get("SHIORI_HOST", "") or "127.0.0.1"
    public_url = env.get("SHIORI_PUBLIC_URL", "") or served_url(host, port)
    if urlsplit(public_url).scheme not in ("http", "https") or not urlsplit(public_url).netloc:
        raise SettingsError(
            "SHIORI_PUBLIC_URL は https://example.jp の形で指定してください。 / "
            "SHIORI_PUBLIC_URL must look like https://example.jp."
        )
    password_hashing = env.get("SHIORI_PASSWORD_HASHING", "") or "standard"
    if password_hashing not in PASSWORD_HASHING:
        raise SettingsError(
            "SHIORI_PASSWORD_HASHING は standard か test で指定してください。 / "
            "SHIORI_PASSWORD_HASHING must be standard or test."
        )
    if production:
        if password_hashing != "standard":  # noqa: S105 - a profile name
            raise SettingsError(
                "SHIORI_PASSWORD_HASHING=test は試験専用で、本番環境では使えません。 / "
                "SHIORI_PASSWORD_HASHING=test is for test suites only, never in production."
            )
        if len(secret) < 32:
            raise SettingsError(
                "本番環境では 32 文字以上の SHIORI_SECRET_KEY が必要です。 / "
                "Production needs SHIORI_SECRET_KEY of at least 32 characters."
            )
        if debug:
            raise SettingsError(
                "本番環境で SHIORI_DEBUG は使えません。 / SHIORI_DEBUG must be off in production."
            )
        if not public_url.startswith("https://"):
            raise SettingsError(
                "本番環境の SHIORI_PUBLIC_URL は https:// で始めてください。 / "
                "In production SHIORI_PUBLIC_URL must start with https://."
            )
    kiosk_idle, kiosk_warning = _kiosk_timing(env)
    return Settings(
        database_url=database_url,
        host=host,
        port=port,
        # The demo gets a fresh random key per start: nothing signed survives a restart.
        secret_key=secret or secrets.token_urlsafe(32),
        production=production,
        debug=debug,
        public_url=public_url.rstrip("/"),
        data_dir=Path(env.get("SHIORI_DATA_DIR", "") or ROOT.parent / "shared" / "data"),
        branches=parse_branches(env.get("SHIORI_BRANCHES", "")),
        staff_console=_bool(env, "SHIORI_STAFF_CONSOLE", True),
        session_idle_minutes=_int(env, "SHIORI_SESSION_IDLE_MINUTES", 30, 1, 24 * 60),
        session_absolute_hours=_int(env, "SHIORI_SESSION_ABSOLUTE_HOURS", 12, 1, 24 * 30),
        kiosk_idle_seconds=kiosk_idle,
        kiosk_warning_seconds=kiosk_warning,
        kiosk_networks=_networks(env, "SHIORI_KIOSK_NETWORKS"),
        smtp_host=env.get("SHIORI_SMTP_HOST", "") or "127.0.0.1",
        smtp_port=_int(env, "SHIORI_SMTP_PORT", 25, 1, 65535),
        smtp_sender=env.get("SHIORI_SMTP_FROM", "") or "library@example.jp",
        smtp_username=env.get("SHIORI_SMTP_USERNAME", ""),
        smtp_password=env.get("SHIORI_SMTP_PASSWORD", ""),
        smtp_starttls=_bool(env, "SHIORI_SMTP_STARTTLS", False),
        smtp_from_domains=_domains(env, "SHIORI_SMTP_FROM_DOMAINS"),
        search_cache_seconds=_int(env, "SHIORI_SEARCH_CACHE_SECONDS", 30, 0, 3600),
        hold_limit=_int(env, "SHIORI_HOLD_LIMIT", 10, 1, 100),
        hold_shelf_days=_int(env, "SHIORI_HOLD_SHELF_DAYS", 7, 1, 60),
        locale_dir=Path(env.get("SHIORI_LOCALE_DIR", "") or LOCALE_DIR),
        password_hashing=password_hashing,
        page_threads=_int(env, "SHIORI_THREADS", 16, 1, 256),
        search_threads=_int(env, "SHIORI_SEARCH_THREADS", 2, 1, 64),
        password_threads=_int(env, "SHIORI_PASSWORD_THREADS", 1, 1, 64),
        mail_retry_days=_int(env, "SHIORI_MAIL_RETRY_DAYS", queries.MAIL_RETRY_DAYS, 1, 30),
        reference_retention_days=_int(env, "SHIORI_REFERENCE_RETENTION_DAYS", 365, 1, 3650),
        application_days=_int(env, "SHIORI_APPLICATION_DAYS", queries.APPLICATION_DAYS, 1, 365),
        worker_healthcheck_seconds=_int(env, "SHIORI_WORKER_HEALTHCHECK_SECONDS", 30, 1, 600),
        keep_alive_seconds=_int(env, "SHIORI_KEEP_ALIVE_SECONDS", 5, 1, 600),
        graceful_shutdown_seconds=_int(env, "SHIORI_GRACEFUL_SHUTDOWN_SECONDS", 30, 1, 3600),
        search_burst=_int(env, "SHIORI_SEARCH_BURST", 60, 0, 1_000_000),
        search_per_minute=_int(env, "SHIORI_SEARCH_PER_MINUTE", 30, 1, 1_000_000),
        search_burst_exempt=_networks(env, "SHIORI_SEARCH_BURST_EXEMPT"),
        api_burst=_int(env, "SHIORI_API_BURST", 60, 0, 1_000_000),
        api_per_minute=_int(env, "SHIORI_API_PER_MINUTE", 60, 1, 1_000_000),
        sitemap_size=_int(env, "SHIORI_SITEMAP_SIZE", 50_000, 1, 50_000),
        public_url_configured=bool(env.get("SHIORI_PUBLIC_URL", "")),
        database_read_url=database_read_url,
        trusted_proxies=_trusted_proxies(env, production),
    )


# Production sits behind deploy/'s nginx on the same host unless told otherwise.
LOOPBACK_PROXIES = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))


def _trusted_proxies(env: Mapping[str, str], production: bool) -> tuple[Network, ...]:
    """SHIORI_TRUSTED_PROXIES: addresses or networks; unset, the loopback in production and
    none in development; "none" for none."""
    raw = env.get("SHIORI_TRUSTED_PROXIES", "")
    if raw.strip().lower() == "none":
        return ()
    if not raw.strip():
        return LOOPBACK_PROXIES if production else ()
    return _networks(env, "SHIORI_TRUSTED_PROXIES")


def smtp_settings(settings: Settings) -> queries.SmtpSettings:
    """The mail sender's settings (the mail worker's; the identity page shows its From)."""
    return queries.SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_sender,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        from_domains=settings.smtp_from_domains,
    )
