"""The collective timeout, counted in time this process was awake.

Gloo judges its own timeout by the monotonic clock, which runs on while a process is stopped: a run
suspended with Ctrl-Z (every rank stopped together) for longer than the timeout failed on `fg`,
although no rank was late. So the work group's own timeout is a backstop of a week, and the real
one is kept here: a thread ticks every `tick_s`; a tick that comes much later than due means the
process did not run (stopped), and counts as one tick. When the collective in progress has waited
longer than the timeout in awake time, `on_expire` runs: by default it logs which collective waited
and exits with the peer-lost status, as a collective that raised would (`serve.py`). Gloo cannot be
interrupted from another thread, hence the exit rather than an exception.

Only the collectives `Group` runs itself are watched (status exchange, gather of replies, …);
those inside FSDP2's forward and backward are bounded by the orchestrator's request timeout, which
counts awake time too (`src/backend/awake-timeout.ts`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..contract import PEER_LOST_EXIT_CODE

log = logging.getLogger("mgsd_backend.group")

Expire = Callable[[str, float], None]


def exit_peer_lost(what: str, waited_s: float) -> None:
    """The default expiry: say which collective waited, then exit as a failed collective does."""
    log.error("%s waited %.0f s (time awake) for the other ranks, past the collective timeout: another rank hung; "
              "exiting (status %d)", what, waited_s, PEER_LOST_EXIT_CODE)
    logging.shutdown()
    os._exit(PEER_LOST_EXIT_CODE)


class CollectiveWatch:
    """Fires `on_expire(what, waited_s)` once a `watching(what)` block has waited `timeout_s` of awake time."""

    def __init__(self, timeout_s: float, on_expire: Expire = exit_peer_lost, tick_s: float = 0.25,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s = timeout_s
        self._on_expire = on_expire
        self._tick_s = tick_s
        self._clock = clock
        self._lock = threading.Lock()
        self._what: str | None = None
        self._awake_s = 0.0
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(self, what: str) -> Iterator[None]:
        with self._lock:
            self._what, self._awake_s = what, 0.0
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="collective-watch", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._what = None

    def _run(self) -> None:
        last = self._clock()
        while True:
            time.sleep(self._tick_s)
            now = self._clock()
            gap, last = now - last, now
            awake = gap if gap <= 2 * self._tick_s else self._tick_s  # a late tick: the process was stopped
            with self._lock:
                if self._what is None:
                    continue
                self._awake_s += awake
                if self._awake_s <= self.timeout_s:
                    continue
                what, waited, self._what = self._what, self._awake_s, None
            self._on_expire(what, waited)
