"""Tiny-model throughput: `python -m mgsd_backend.bench_model [--threads-list 1,2] [--steps N]`.

Measures, for each thread count in its own fresh process (thread settings must precede the torch
import), on the default tiny model (d 128, 4 layers, 40×40 images → 25 visual tokens):
- generation tokens/s at batch 32, 64 new tokens, greedy and T=1 (EOS ignored so every row
  produces 64 tokens; KV cache);
- training steps/s at batch 64 through the worker's real ops: `sft_step`, `distill_step` with a
  wire teacher (`sampled`, the default two-worker layout) and with an in-process teacher, and the
  teacher-side `score` (token mode) those wire steps need. Sequences are compact-length: a
  38-token prompt (25 visual) + a 40-token response ≈ 78 tokens.

- rank groups (`--ranks-list 1,2`, bench_group.py): `sft_step` steps/s at batch 64 of a group of
  N single-thread rank processes (rows split, gradients all-reduced over gloo), and its speedup
  over one rank.

Each figure is the median over `--steps` timed repetitions after 2 warm-up ones, per second of
wall time; `*_per_cpu_s` figures divide by this process's CPU time instead (all its threads), so
at 1 thread they are robust to other load on a shared machine (at 2 threads they are not a
speed: both threads' CPU seconds count). The last stdout line is one JSON object:
`{"threads": {"1": {...}, "2": {...}}, "ranks": {"1": {...}, "2": {...}}, ...}` (what
`npm run bench:model` reads).

`--profile OP` (one of `sft_step`, `distill_step_wire_teacher`, `distill_step_in_process_teacher`,
`teacher_score`) instead prints where that op's time goes at 1 thread: torch.profiler's busiest
ops, and the share spent in matrix products with their GFLOP/s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from .bench_inputs import PROMPT, RESPONSE, images as _images, views as _views


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mgsd_backend.bench_model", description=__doc__.splitlines()[0])
    parser.add_argument("--threads-list", default="1,2", help="thread counts, one fresh process each (default 1,2)")
    parser.add_argument("--threads", type=int, default=None, help="run in this process with N threads (internal)")
    parser.add_argument("--steps", type=int, default=8, help="timed repetitions per figure (default 8)")
    parser.add_argument("--ranks-list", default="1,2", help="rank-group sizes for the sft_step figure ('' skips it)")
    parser.add_argument("--profile", metavar="OP", default=None, help="print where OP's time goes (see above) instead")
    args = parser.parse_args(argv)
    if args.profile is not None:
        return profile_one(args.profile, args.steps)
    if args.threads is not None:
        print(json.dumps(run_one(args.threads, args.steps)))
        return 0
    results = {}
    for threads in [int(t) for t in args.threads_list.split(",") if t]:
        child = subprocess.run([sys.executable, "-m", "mgsd_backend.bench_model", "--threads", str(threads),
                                "--steps", str(args.steps)], capture_output=True, text=True, check=False)
        if child.returncode != 0:
            sys.stderr.write(child.stderr)
            raise SystemExit(f"bench_model: the {threads}-thread run failed (exit {child.returncode}); see above")
        results[str(threads)] = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"threads={threads}: {results[str(threads)]}", file=sys.stderr)
    from .bench_group import run_groups

    ranks = run_groups([int(r) for r in args.ranks_list.split(",") if r], args.steps) if args.ranks_list else {}
    print(json.dumps({"bench": "model", "threads": results, "ranks": ranks, "cpu_count": os.cpu_count()}))
    return 0


def run_one(threads: int, steps: int) -> dict:
    """All figures for one thread count, in this process."""
    from .__main__ import apply_thread_env

    worker = _worker(threads)
    import torch

    from .chat_views import parse_views
    from .models.base import SamplingParams

    model = worker.roles["student"].model
    figures: dict[str, float] = {"torch_threads": torch.get_num_threads()}
    for name, temperature in (("generate_greedy", 0.0), ("generate_t1", 1.0)):
        prompts = model.encode_prompts(parse_views(_views(32), "views"), _images(32))
        params = SamplingParams(max_new_tokens=64, temperature=temperature, top_p=1.0, seed=0)
        wall, cpu = _median_seconds(lambda: model.generate(prompts, params, ignore_eos=True), steps)  # type: ignore[call-arg]
        figures[f"{name}_tokens_per_s"] = 32 * 64 / wall
        figures[f"{name}_tokens_per_cpu_s"] = 32 * 64 / cpu
    figures.update(_train_figures(worker, steps))
    return {k: round(v, 3) for k, v in figures.items()}


def profile_one(op: str, steps: int) -> int:
    """Prints torch.profiler's busiest ops of `op` (a `_train_runs` name) over `steps` calls at 1 thread."""
    worker = _worker(1)
    runs, tokens_per_row = _train_runs(worker)
    if op not in runs:
        raise SystemExit(f"bench_model --profile: unknown op {op!r}; one of {', '.join(runs)}")
    from torch.profiler import ProfilerActivity, profile

    _median_seconds(runs[op], 1)  # warm up
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        for _ in range(steps):
            runs[op]()
    events = prof.key_averages()
    total_us = sum(e.self_cpu_time_total for e in events)
    products = [e for e in events if e.key in ("aten::mm", "aten::addmm", "aten::bmm")]
    product_us = sum(e.self_cpu_time_total for e in products)
    gflop = sum(e.flops for e in products) / 1e9
    print(events.table(sort_by="self_cpu_time_total", row_limit=15))
    print(f"{op}: {total_us / steps / 1e6:.3f} CPU-s per call (64 rows of {tokens_per_row} tokens); matrix products "
          f"{100 * product_us / total_us:.0f} % of it, at {gflop / (product_us / 1e6):.0f} GFLOP/s")
    return 0


def _worker(threads: int):
    """A worker with the default tiny student (trainable) and teacher, at `threads` threads."""
    from .__main__ import apply_thread_env

    apply_thread_env(threads)
    import torch

    torch.set_num_threads(threads)
    from .worker import Worker

    worker = Worker(threads=threads)
    optimizer = {"betas": [0.9, 0.95], "weight_decay": 0.01, "eps": 1e-8}
    config = {"d_model": 128, "n_layers": 4, "n_heads": 4, "patch_px": 8, "max_seq_len": 256, "image_size_px": 40}
    for role, seed, trainable in (("student", 0, True), ("teacher", 1, False)):
        worker.load({"role": role, "model": {"kind": "tiny", "config": config}, "checkpoint": None,
                     "trainable": trainable, "optimizer": optimizer if trainable else None, "device": "cpu",
                     "dtype": "float32", "seed": seed}, {})
    return worker


def _train_figures(worker, steps: int) -> dict[str, float]:
    runs, tokens_per_row = _train_runs(worker)
    figures = {}
    for name, run in runs.items():
        wall, cpu = _median_seconds(run, steps)
        figures[f"{name}_per_s"], figures[f"{name}_per_cpu_s"] = 1.0 / wall, 1.0 / cpu
    figures["train_tokens_per_row"] = float(tokens_per_row)
    return figures


def _train_runs(worker) -> tuple[dict[str, Callable[[], object]], int]:
    """The timed training ops at batch 64, and the tokens of one row (prompt + response)."""
    views, images, teacher_views = _views(64), _images(64), _teacher_views(64)
    ids, mask = worker.roles["student"].model.encode_targets([RESPONSE] * 64, append_eos=True)
    batch = {"images": images, "response_ids": ids.cpu(), "response_mask": mask.cpu()}
    common = {"role": "student", "views": views, "lr": 1e-4, "grad_clip": 1.0}
    sft = {**common, "targets": [RESPONSE] * 64, "append_eos": True}
    score = {"role": "teacher", "views": teacher_views, "temperature": 1.0, "mode": "token", "k": None}
    teacher_scores = worker.score(score, {"response_ids": batch["response_ids"], "response_mask": batch["response_mask"]})[1]
    distill = {**common, "estimator": "sampled", "temperature": 1.0, "clip": {"low": 0.2, "high": 0.3, "dual": 3.0},
               "k": None}
    wire = {**distill, "teacher": {"source": "wire"}}
    in_process = {**distill, "teacher": {"source": "role", "role": "teacher", "views": teacher_views}}
    runs: dict[str, Callable[[], object]] = {
        "sft_step": lambda: worker.sft_step(sft, {"images": images}),
        "distill_step_wire_teacher": lambda: worker.distill_step(wire, batch | {"teacher_logprobs": teacher_scores["logprobs"]}),
        "distill_step_in_process_teacher": lambda: worker.distill_step(in_process, batch),
        "teacher_score": lambda: worker.score(score, {k: batch[k] for k in ("response_ids", "response_mask")}),
    }
    prompt_tokens = 2 + 25 + len(PROMPT) + 1  # BOS, role, visual tokens, text, generation prompt
    return runs, prompt_tokens + int(mask[0].sum())


def _median_seconds(run: Callable[[], object], steps: int, warmup: int = 2) -> tuple[float, float]:
    """Median (wall seconds, process CPU seconds) of one call."""
    for _ in range(warmup):
        run()
    wall, cpu = [], []
    for _ in range(steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    return statistics.median(wall), statistics.median(cpu)


def _teacher_views(n: int) -> list:
    text = "4x4\nS...\n.H..\n..H.\n...G\nplan>"
    return [[{"role": "user", "content": [{"type": "text", "text": text}]}] for _ in range(n)]


if __name__ == "__main__":
    sys.exit(main())
