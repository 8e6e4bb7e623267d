"""The collective timeout in time awake (`group/watch.py`): a wait past it ends the rank, a suspension
of the whole group does not (gloo's own timeout would have: see the real 2-rank case)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mgsd_backend.group.watch import CollectiveWatch
from group_harness import free_port


def test_a_wait_past_the_timeout_expires_once_naming_the_collective():
    expired: list[tuple[str, float]] = []
    watch = CollectiveWatch(0.3, on_expire=lambda what, waited: expired.append((what, waited)), tick_s=0.02)
    with watch.watching("gather of the replies"):
        time.sleep(0.6)
    assert len(expired) == 1 and expired[0][0] == "gather of the replies" and expired[0][1] > 0.3


def test_a_wait_within_the_timeout_does_not_expire_and_each_block_starts_from_zero():
    expired: list[str] = []
    watch = CollectiveWatch(0.4, on_expire=lambda what, waited: expired.append(what), tick_s=0.02)
    for _ in range(3):
        with watch.watching("status exchange"):
            time.sleep(0.2)
    time.sleep(0.5)  # outside any block nothing is counted
    assert expired == []


def test_time_the_process_did_not_run_is_not_counted():
    offset = [0.0]
    expired: list[str] = []
    watch = CollectiveWatch(0.3, on_expire=lambda what, waited: expired.append(what), tick_s=0.02,
                            clock=lambda: time.monotonic() + offset[0])
    with watch.watching("status exchange"):
        time.sleep(0.1)
        offset[0] += 3600.0  # the clock jumps an hour between two ticks: the process was stopped
        time.sleep(0.1)
    assert expired == []


RANK = """
import os, sys, time, torch
from mgsd_backend.group import init_from_env
group = init_from_env()
print("ready", flush=True)
if group.rank == 0:
    time.sleep(1.5)
total = group.all_reduce_sum_(torch.ones(3), "test all-reduce")
print("sum", total.tolist(), flush=True)
os._exit(0)  # as the worker ends (__main__._exit): no teardown of a live gloo group, which can abort
"""


def test_a_group_suspended_longer_than_the_collective_timeout_carries_on_when_continued():
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(port), "MGSD_COLLECTIVE_TIMEOUT_S": "2"}
    ranks = [subprocess.Popen([sys.executable, "-c", RANK], env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(2)]
    try:
        for p in ranks:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        time.sleep(0.3)  # rank 1 waits in the all-reduce, rank 0 has 1.2 s of work left
        for p in ranks:
            p.send_signal(signal.SIGSTOP)
        time.sleep(4.0)  # twice the collective timeout
        for p in ranks:
            p.send_signal(signal.SIGCONT)
        outs = [p.communicate(timeout=60) for p in ranks]
    finally:
        for p in ranks:
            p.kill()
    for p, (out, err) in zip(ranks, outs):
        assert p.returncode == 0 and "sum [2.0, 2.0, 2.0]" in out, err
