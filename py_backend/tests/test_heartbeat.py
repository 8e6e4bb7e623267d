"""The heartbeat thread keeps beating while the main thread computes (torch kernels and pure Python
alike), so a long op is never mistaken for a stall; it exits the process when the client is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

from mgsd_backend.heartbeat import start_heartbeat, start_heartbeat_from_env

PY_BACKEND = Path(__file__).resolve().parents[1]


def _beat_times(read_fd: int, stop: threading.Event) -> list[float]:
    times: list[float] = []

    def read() -> None:
        while not stop.is_set():
            if os.read(read_fd, 64):
                times.append(time.monotonic())

    threading.Thread(target=read, daemon=True).start()
    return times


def test_beats_keep_coming_while_the_main_thread_computes() -> None:
    read_fd, write_fd = os.pipe()
    stop = threading.Event()
    times = _beat_times(read_fd, stop)
    start_heartbeat(write_fd, 0.1)
    started = time.monotonic()
    a = torch.randn(384, 384)
    while time.monotonic() - started < 1.0:  # torch kernels (release the GIL)
        a = torch.tanh(a @ a)
    total = 0
    while time.monotonic() - started < 2.0:  # pure Python (yields the GIL every switch interval)
        total += sum(i * i for i in range(1000))
    stop.set()
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(times) >= 10, f"only {len(times)} beats in 2 s of compute"
    assert max(gaps) < 0.6, f"longest silence {max(gaps):.2f} s while computing"


def test_no_heartbeat_without_the_environment() -> None:
    assert start_heartbeat_from_env({}) is None


def test_exits_when_the_client_closes_the_pipe() -> None:
    read_fd, write_fd = os.pipe()
    code = (
        "import os, sys, time\n"
        "from mgsd_backend.heartbeat import start_heartbeat_from_env\n"
        "start_heartbeat_from_env()\n"
        "time.sleep(30)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(PY_BACKEND), "MGSD_HEARTBEAT_FD": str(write_fd), "MGSD_HEARTBEAT_INTERVAL_MS": "50"},
        pass_fds=(write_fd,),
        stderr=subprocess.PIPE,
    )
    os.close(write_fd)
    try:
        assert os.read(read_fd, 1) == b"."
        os.close(read_fd)  # the client is gone
        assert child.wait(10) == 1
        assert b"closed the heartbeat pipe" in child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
