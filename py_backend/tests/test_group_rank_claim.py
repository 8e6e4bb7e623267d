"""The rank claim (`group/claim.py`): a second process started as the same rank of a group is
refused at once, naming the holder, and the group that holds the rank carries on.

Real TCPStores on free loopback ports; timeouts of seconds, so a regression fails fast instead of
hanging until a collective timeout."""

from __future__ import annotations

import datetime
import multiprocessing as mp
import os
import threading
import time
import traceback
from typing import Any

import pytest
import torch.distributed as dist

from dist_helpers import free_port
from mgsd_backend.group import RankTaken
from mgsd_backend.group.claim import claim_rank, claim_rank_at

SHORT = datetime.timedelta(seconds=10)


def server_store(port: int) -> dist.TCPStore:
    """Rank 0's side of the rendezvous: the store server (what `init_process_group` makes on rank 0)."""
    return dist.TCPStore("127.0.0.1", port, world_size=None, is_master=True, timeout=SHORT, wait_for_workers=False)


def test_a_second_claim_of_a_rank_is_refused_and_names_the_first_claimant():
    port = free_port()
    store = server_store(port)
    claim_rank(store, 1, 4, f"127.0.0.1:{port}", claimant="pid 11 on host node1, claim aaaa")
    claim_rank_at("127.0.0.1", port, 2, 4, SHORT)  # another rank: no conflict
    with pytest.raises(RankTaken) as refused:
        claim_rank_at("127.0.0.1", port, 1, 4, SHORT)
    assert str(refused.value) == (
        f"rank 1 of 4 is already held by another process in this group (pid 11 on host node1, claim aaaa; "
        f"rendezvous 127.0.0.1:{port}): is `mgsd join` for this node running twice, or do two runs share "
        "backend.rendezvous.port? Stop the extra one; the group that holds the rank is not affected")
    with pytest.raises(RankTaken, match=f"rank 2 of 4 is already held .*pid {os.getpid()} on host"):
        claim_rank_at("127.0.0.1", port, 2, 4, SHORT)


def test_a_claim_made_before_rank_0_starts_its_store_waits_for_it():
    port = free_port()
    outcome: list[Any] = []

    def claim() -> None:
        try:
            claim_rank_at("127.0.0.1", port, 1, 2, SHORT)
            outcome.append("claimed")
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            outcome.append(error)

    follower = threading.Thread(target=claim)
    follower.start()
    time.sleep(1.0)  # the follower is retrying its connection by now
    store = server_store(port)
    follower.join(timeout=30)
    assert outcome == ["claimed"], outcome
    assert store.get("mgsd/rank-claim/1").decode().startswith(f"pid {os.getpid()} on host ")


def _rank(rank: int, port: int, queue: Any, go_on: Any) -> None:
    """One rank of a 2-rank group through `init_from_env`; rank 0 keeps the group (and its store)
    alive until `go_on` is set, then both run one more collective."""
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank), "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": str(port), "MGSD_COLLECTIVE_TIMEOUT_S": "30"})
    os.environ.pop("TORCHELASTIC_RUN_ID", None)
    from mgsd_backend.group import init_from_env

    started = time.monotonic()
    try:
        group = init_from_env()
        queue.put((rank, "joined", time.monotonic() - started))
        if rank == 0:
            go_on.wait(60)
        pids = group.all_gather_object(os.getpid(), "test exchange after the duplicate")
        queue.put((rank, "ok", pids))
        dist.destroy_process_group()
    except RankTaken as error:
        queue.put((rank, "refused", (str(error), time.monotonic() - started)))
    except BaseException:  # the test reports it; nothing is swallowed
        queue.put((rank, "error", traceback.format_exc()))


def test_a_duplicate_rank_is_refused_in_seconds_and_the_group_that_holds_it_carries_on():
    # spawn, not fork: a fork after other tests have started torch's threads or a process group can
    # hang the child; spawned children import torch afresh (seconds).
    ctx = mp.get_context("spawn")
    queue, go_on, port = ctx.Queue(), ctx.Event(), free_port()
    # Rank 1 first: its claim waits for rank 0's store, which init_process_group starts later.
    procs = [ctx.Process(target=_rank, args=(1, port, queue, go_on))]
    procs[0].start()
    time.sleep(1.0)
    procs.append(ctx.Process(target=_rank, args=(0, port, queue, go_on)))
    procs[1].start()
    try:
        joined = sorted(queue.get(timeout=60)[:2] for _ in range(2))
        assert joined == [(0, "joined"), (1, "joined")], joined
        procs.append(ctx.Process(target=_rank, args=(1, port, queue, go_on)))  # the duplicate
        procs[2].start()
        rank, status, value = queue.get(timeout=20)
        assert (rank, status) == (1, "refused"), (rank, status, value)
        message, seconds = value
        assert message.startswith("rank 1 of 2 is already held by another process in this group (pid "), message
        assert seconds < 10, f"the duplicate took {seconds:.1f} s to be refused"
        go_on.set()
        done = sorted(queue.get(timeout=60) for _ in range(2))
        assert [(r, s) for r, s, _ in done] == [(0, "ok"), (1, "ok")], done
        assert done[0][2] == [procs[1].pid, procs[0].pid]
    finally:
        go_on.set()
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
