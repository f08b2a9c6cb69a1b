"""`shiori serve`: uvicorn with the timeouts from the settings, and workers that end with
their master.

With `--workers N` uvicorn runs a master that starts N worker processes sharing one
listening socket, pings each every half second and kills one that does not answer within
`timeout_worker_healthcheck` seconds. The answer comes from a thread of the worker, so busy
handlers (themselves in worker threads, web/offload.py) do not hold it up; what can is a
worker still starting on a machine whose cores are busy. multiprocessing's "spawn", which
uvicorn uses, makes each new worker import the master's main module before anything else,
and that was `shiori` (web.cli: the whole application); at uvicorn's 5 s a replacement
worker started under load was killed before it could answer, again and again. So the
workers' main module is this small one, and the default timeout is longer.

A master killed outright (SIGKILL, the OOM killer) cannot stop its workers, and they kept
serving and holding the port, so the next start failed with "Address already in use".
Each worker therefore asks the kernel for SIGTERM when its master dies (Linux
PR_SET_PDEATHSIG; elsewhere a thread watches the parent's id) and shuts down as on a
normal stop.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import signal
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # at run time this module stays light: see _spawn_workers_from_here
    from web.settings import Settings

# Set by the master for its workers: the master's process id.
MASTER_ENV = "SHIORI_SERVE_MASTER"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_SECONDS = 0.5


@dataclass(frozen=True)
class Timeouts:
    """uvicorn's timeouts, in seconds (uvicorn takes whole seconds)."""

    worker_healthcheck: int
    keep_alive: int
    graceful_shutdown: int


def timeouts(settings: Settings, **given: int | None) -> Timeouts:
    """The settings' timeouts, each replaced by a command-line value when one is `given`."""
    chosen = {
        "worker_healthcheck": settings.worker_healthcheck_seconds,
        "keep_alive": settings.keep_alive_seconds,
        "graceful_shutdown": settings.graceful_shutdown_seconds,
    }
    chosen.update({name: value for name, value in given.items() if value is not None})
    return Timeouts(**chosen)


def run(settings: Settings, workers: int, limits: Timeouts) -> None:
    """Serve until stopped (blocks)."""
    import uvicorn

    if workers > 1:
        os.environ[MASTER_ENV] = str(os.getpid())  # inherited by the workers only
        _spawn_workers_from_here()
    else:
        os.environ.pop(MASTER_ENV, None)  # one process: it is its own master
    uvicorn.run(
        "web.app:asgi",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        # X-Forwarded-* are the application's business (web/forwarded.py).
        proxy_headers=False,
        server_header=False,
        log_level="info",
        access_log=not settings.production,
        timeout_worker_healthcheck=limits.worker_healthcheck,
        timeout_keep_alive=limits.keep_alive,
        timeout_graceful_shutdown=limits.graceful_shutdown,
    )


def _spawn_workers_from_here() -> None:
    """Have the workers import this module as their main one instead of the master's (a
    spawned child imports the module named by `__main__.__spec__`). uvicorn loads the
    application in the worker afterwards, with its health answers already running."""
    sys.modules["__main__"].__spec__ = importlib.util.find_spec(__name__)


def end_with_master() -> None:
    """In a worker of `shiori serve --workers N`: stop when the master dies. Elsewhere (one
    process, tests, another server) nothing happens."""
    master = os.environ.get(MASTER_ENV, "")
    if not master.isdigit() or int(master) == os.getpid():
        return
    if not _parent_death_signal(signal.SIGTERM):
        threading.Thread(target=_watch_parent, args=(int(master),), daemon=True).start()
    # The master may have died before the request above: then no signal will come.
    if os.getppid() != int(master):
        os.kill(os.getpid(), signal.SIGTERM)


def _parent_death_signal(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)  # the C library the interpreter runs on
    return bool(libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0)


def _watch_parent(master: int) -> None:
    stopped = threading.Event()
    while not stopped.wait(WATCH_SECONDS):
        if os.getppid() != master:
            os.kill(os.getpid(), signal.SIGTERM)
            return
