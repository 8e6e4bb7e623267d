"""Runs a script of ops on a real N-rank gloo group (spawned processes, no socket), for the
group tests: rank 0 drives `Dispatcher.lead` exactly as the server does after validation, ranks > 0
run `Server.follow`, and rank 0 returns every reply (or the error's code and message) in order.

`run_script(world, script)` → list of ("ok", result, tensors) | ("error", code, message).
A script entry is (op name, args, tensors), ("raise_on_rank", rank) which makes that rank's
next model op raise, or ("hang_on_rank", rank, seconds) which makes it sleep that long inside its
next model op (fault injections through the worker factory).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import socket
import time
import traceback
from queue import Empty
from typing import Any

import torch


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, script: list, queue: Any, timeout_s: float) -> None:
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                       "MGSD_COLLECTIVE_TIMEOUT_S": str(timeout_s)})
    torch.set_num_threads(1)
    from mgsd_backend.group import PeerLost, init_from_env
    from mgsd_backend.protocol import Op
    from mgsd_backend.server import Server, ServerOptions
    from mgsd_backend.worker import Worker

    group = init_from_env() if world > 1 else init_from_env({})
    faults: set[int] = set()
    hangs: dict[int, float] = {}

    class FaultyWorker(Worker):
        def _encode(self, *args: Any, **kwargs: Any) -> Any:  # inside every op's local part
            if group.rank in faults:
                faults.discard(group.rank)
                raise RuntimeError(f"injected failure on rank {group.rank}")
            if group.rank in hangs:
                time.sleep(hangs.pop(group.rank))
            return super()._encode(*args, **kwargs)

    server = Server(ServerOptions(endpoint="ipc://unused", token="t"), lambda: FaultyWorker(1, group), group)
    try:
        if not group.is_leader:
            for entry in script:
                if entry[0] == "raise_on_rank" and entry[1] == rank:
                    faults.add(rank)
                if entry[0] == "hang_on_rank" and entry[1] == rank:
                    hangs[rank] = entry[2]
            server.follow()
            return
        replies = []
        for entry in script:
            if entry[0] in ("raise_on_rank", "hang_on_rank"):
                continue
            name, args, tensors = entry
            try:
                result, out = server._dispatcher.lead(Op(name), args, tensors)
                replies.append(("ok", result, {k: v.clone() for k, v in out.items()}))
            except Exception as error:  # noqa: BLE001 - the reply rank 0 would send
                replies.append(("error", getattr(error, "code", type(error).__name__), str(error)))
                if isinstance(error, PeerLost):  # the group is broken: rank 0 would exit here
                    queue.put(pickle.dumps(replies))
                    queue.close()
                    queue.join_thread()  # flush before the hard exit
                    os._exit(70)
        server._dispatcher.stop_followers() if group.distributed else None
        queue.put(pickle.dumps(replies))  # plain bytes: no shared-memory tensors outliving this process
    except Exception:  # noqa: BLE001 - surfaces in the test
        queue.put(("crash", rank, traceback.format_exc()))


def run_script(world: int, script: list, timeout_s: float = 120, collective_timeout_s: float = 60) -> list:
    """Runs `script` on a `world`-rank group; returns rank 0's replies, or [("exited", status)] when
    rank 0 exited without replying (its collective watch ended it)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_rank_main, args=(r, world, port, script, queue, collective_timeout_s), daemon=True) for r in range(world)]
    for p in procs:
        p.start()
    try:
        out = _rank0_outcome(queue, procs[0], timeout_s)
    finally:
        for p in procs:
            p.join(timeout=20)
            if p.is_alive():
                p.kill()
    if isinstance(out, bytes):
        return pickle.loads(out)
    if isinstance(out, int):
        return [("exited", out)]
    if isinstance(out, tuple) and out[0] == "crash":
        raise AssertionError(f"rank {out[1]} crashed:\n{out[2]}")
    return out


def _rank0_outcome(queue: Any, rank0: Any, timeout_s: float) -> Any:
    """What rank 0 put on the queue, or its exit status if it exited without a word."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return queue.get(timeout=0.2)
        except Empty:
            if rank0.exitcode is not None:
                try:
                    return queue.get(timeout=1.0)  # it may have put its replies just before exiting
                except Empty:
                    return rank0.exitcode
    raise TimeoutError(f"rank 0 gave no replies within {timeout_s} s")
