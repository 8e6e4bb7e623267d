"""Run a function on N gloo CPU ranks from a test (torch.multiprocessing, one process per rank).

Each rank initialises the default process group on a free localhost port, runs `fn(rank, world,
*args)` with one torch thread, and sends back what it returns (tests only: the values are the
test's own). A rank that raises fails the whole call with its traceback."""

from __future__ import annotations

import os
import socket
import traceback

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _entry(rank: int, world: int, port: int, fn, args, queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    try:
        dist.init_process_group("gloo", rank=rank, world_size=world)
        try:
            queue.put((rank, "ok", _plain(fn(rank, world, *args))))
        finally:
            dist.destroy_process_group()
    except BaseException:  # the test reports it; nothing is swallowed
        queue.put((rank, "error", traceback.format_exc()))


def _plain(value):
    """Tensors → numpy copies: torch's shared-memory tensor passing dies with the rank process."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().copy()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def run_ranks(fn, world: int, *args, timeout_s: float = 120.0) -> list:
    """Results of `fn` per rank, in rank order (tensors come back as numpy arrays)."""
    ctx = mp.get_context("fork")  # CPU only: the children reuse the imported torch (seconds per rank)
    queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_entry, args=(r, world, port, fn, args, queue)) for r in range(world)]
    for proc in procs:
        proc.start()
    results: dict[int, object] = {}
    try:
        for _ in range(world):
            rank, status, value = queue.get(timeout=timeout_s)
            if status == "error":
                raise AssertionError(f"rank {rank} of {world} raised:\n{value}")
            results[rank] = value
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    return [results[r] for r in range(world)]
