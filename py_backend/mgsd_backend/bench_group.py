"""Rank-group throughput of the tiny model's `sft_step` (the `ranks` figure of bench_model.py).

`run_groups([1, 2], steps)` starts, for each rank count N, N fresh single-thread processes that
form a gloo group exactly as the TypeScript launcher does (RANK, WORLD_SIZE, MASTER_ADDR,
MASTER_PORT); rank 0 times `sft_step` at batch 64 through the group's real fan-out, row shards,
gradient all-reduce and gather (`group.serve.Dispatcher`), the others follow it. The figure is the
median steps/s of the whole group after 2 warm-up steps, and `speedup` is each N's steps/s over
the 1-rank figure. Every process sets its thread environment before importing torch.

On a shared machine wall-clock figures swing with the other load, so each N also reports
`cpu_s_per_step`: the CPU seconds all its ranks spend per step (each rank's process CPU time over
the timed steps, marked by two `set_threads` ops), and `speedup_on_idle_cores` = N × (1-rank CPU
per step) / (N-rank CPU per step): the speedup N idle cores would give if the ranks' work overlaps
fully (it counts any CPU the collectives burn waiting, so it is not optimistic on that account).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time

BATCH = 64


def run_groups(rank_counts: list[int], steps: int) -> dict[str, dict[str, float]]:
    """{"N": {"sft_step_per_s", "speedup"}} for each rank count (each in fresh processes)."""
    out: dict[str, dict[str, float]] = {}
    for ranks in rank_counts:
        port = _free_port()
        procs = [subprocess.Popen([sys.executable, "-m", "mgsd_backend.bench_group", str(rank), str(ranks), str(port),
                                   str(steps)], stdout=subprocess.PIPE, text=True) for rank in range(ranks)]
        outputs = [proc.communicate()[0] for proc in procs]
        failed = [rank for rank, proc in enumerate(procs) if proc.returncode != 0]
        if failed:
            raise SystemExit(f"bench_group: rank(s) {failed} of the {ranks}-rank run failed; see stderr above")
        figures = json.loads(outputs[0].strip().splitlines()[-1])
        figures["cpu_s_per_step"] = round(sum(json.loads(o.strip().splitlines()[-1])["cpu_s_per_step"]
                                              for o in outputs), 4)
        out[str(ranks)] = figures
        print(f"ranks={ranks}: {figures}", file=sys.stderr)
    base = out.get("1")
    for ranks, figures in out.items():
        if base:
            figures["speedup"] = round(figures["sft_step_per_s"] / base["sft_step_per_s"], 3)
            figures["speedup_on_idle_cores"] = round(int(ranks) * base["cpu_s_per_step"] / figures["cpu_s_per_step"], 3)
    return out


def _rank_main(rank: int, ranks: int, port: int, steps: int) -> None:
    from .__main__ import apply_thread_env

    apply_thread_env(1)
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(ranks), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    import torch

    torch.set_num_threads(1)
    from .bench_inputs import RESPONSE, images, views
    from .group import init_from_env
    from .protocol import Op
    from .server import Server, ServerOptions
    from .worker import Worker

    group = init_from_env()
    server = Server(ServerOptions(endpoint="ipc://unused", token="bench"), lambda: Worker(1, group), group)
    marks: list[float] = []  # process CPU time at each set_threads op: the timed window's bounds
    set_threads = server._handlers[Op.SET_THREADS]  # noqa: SLF001
    server._handlers[Op.SET_THREADS] = lambda a, t: (marks.append(time.process_time()), set_threads(a, t))[1]  # noqa: SLF001
    if not group.is_leader:
        server.follow()
        print(json.dumps({"cpu_s_per_step": (marks[1] - marks[0]) / steps}))
        return
    lead = server._dispatcher.lead  # noqa: SLF001 - the server's own path after validation
    config = {"d_model": 128, "n_layers": 4, "n_heads": 4, "patch_px": 8, "max_seq_len": 256, "image_size_px": 40}
    lead(Op.LOAD, {"role": "student", "model": {"kind": "tiny", "config": config}, "checkpoint": None,
                   "trainable": True, "optimizer": {"betas": [0.9, 0.95], "weight_decay": 0.01, "eps": 1e-8},
                   "device": "cpu", "dtype": "float32", "seed": 0}, {})
    sft = {"role": "student", "views": views(BATCH), "targets": [RESPONSE] * BATCH, "append_eos": True, "lr": 1e-4,
           "grad_clip": 1.0}
    batch_images = images(BATCH)
    walls: list[float] = []
    for index in range(2 + steps):
        if index == 2:
            lead(Op.SET_THREADS, {"threads": 1}, {})
        start = time.perf_counter()
        lead(Op.SFT_STEP, sft, {"images": batch_images})
        walls.append(time.perf_counter() - start)
    lead(Op.SET_THREADS, {"threads": 1}, {})
    if group.distributed:
        server._dispatcher.stop_followers()  # noqa: SLF001
    wall = statistics.median(walls[2:])
    print(json.dumps({"sft_step_per_s": round(1.0 / wall, 3), "batch": BATCH,
                      "cpu_s_per_step": (marks[1] - marks[0]) / steps}))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    _rank_main(*(int(a) for a in sys.argv[1:5]))
