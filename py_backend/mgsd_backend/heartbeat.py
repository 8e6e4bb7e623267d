"""The worker's heartbeat: a daemon thread that writes one byte to an inherited pipe every interval.

The client (`src/backend/heartbeat.ts`) declares a process stalled when the beats stop for its
timeout, so a SIGSTOPped or wedged worker is found in seconds instead of at a request timeout. The
beat comes from its own thread, so a long op does not silence it: torch releases the GIL inside its
kernels, and Python code yields it every switch interval. A native call that holds the GIL does
silence it; the client therefore gives a silent process that is not stopped six timeouts before
it counts as wedged (`src/backend/heartbeat.ts`).

The pipe also tells the worker when its client is gone: a write that fails with EPIPE means the
read end closed (Node exited, even by SIGKILL), and the process exits at once, like the parent
watchdog in `server.py`.

Environment (set by `src/backend/spawn.ts`): `MGSD_HEARTBEAT_FD` (the pipe's fd) and
`MGSD_HEARTBEAT_INTERVAL_MS`. Without them no heartbeat runs (a worker started by hand or a test).
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger("mgsd_backend.heartbeat")

FD_ENV = "MGSD_HEARTBEAT_FD"
INTERVAL_ENV = "MGSD_HEARTBEAT_INTERVAL_MS"


def start_heartbeat(fd: int, interval_s: float) -> threading.Thread:
    """Starts the beating thread on `fd`; it exits the process when the client is gone."""

    def beat() -> None:
        stop = threading.Event()
        while not stop.is_set():
            try:
                os.write(fd, b".")
            except BrokenPipeError:
                log.warning("the client closed the heartbeat pipe (it exited); exiting")
                logging.shutdown()
                os._exit(1)
            except OSError as error:
                log.error("heartbeat pipe fd %d failed (%s); the client will declare this worker stalled", fd, error)
                return
            stop.wait(interval_s)

    thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
    thread.start()
    return thread


def start_heartbeat_from_env(environ: dict[str, str] | os._Environ = os.environ) -> threading.Thread | None:
    """Starts the heartbeat the client asked for in the environment, or None when it asked none."""
    raw_fd = environ.get(FD_ENV)
    if raw_fd is None:
        return None
    try:
        fd = int(raw_fd)
        interval_s = int(environ.get(INTERVAL_ENV, "1000")) / 1000
    except ValueError as error:
        raise SystemExit(f"mgsd worker: {FD_ENV}={raw_fd!r} / {INTERVAL_ENV}: expected integers ({error})") from None
    if interval_s <= 0:
        raise SystemExit(f"mgsd worker: {INTERVAL_ENV} must be > 0, got {environ.get(INTERVAL_ENV)!r}")
    return start_heartbeat(fd, interval_s)
