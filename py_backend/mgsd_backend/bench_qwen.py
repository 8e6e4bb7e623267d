"""Benchmark of the `hf` model kind at a Qwen3-VL shape with random weights, fully offline.

    python -m mgsd_backend.bench_qwen --shape tiny|2b|4b --steps N [--batch 8 --new-tokens 128 ...]

Builds a random student (LoRA on the language model, as MGSD's SFT/OPSD) and a frozen teacher of
the same shape in memory, puts them in a `Worker`, and times the worker's own ops, per step:
`generate` (student, image view, sampling at temperature 1; includes the teacher-forced log-prob
recompute and decoding) and `distill_step` (teacher scores the text-only view in-process without
grad; student log-probs with grad; the chosen estimator, default `sampled`; backward; AdamW).
Prints ONE JSON line: generate tokens/s, distill step seconds, peak memory. The first step is a
warm-up and is not counted.

Random weights almost never emit EOS, so every response runs to `--new-tokens`: the timing is for
full-length responses. Numbers are per process; on a shared CPU they are noisy.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time

import numpy as np
import torch

from .contract import ESTIMATORS
from .models.qwen3_vl import Qwen3VLPolicy
from .models.qwen3_vl_codec import ImageSettings
from .models.tiny_qwen3_vl import SHAPES, build_random_qwen3_vl

STUDENT_TEXT = ("You see a grid puzzle. First describe the map size, your position, the goal and every hole, "
                "then give the shortest safe plan as <answer>moves</answer>. ")
TEACHER_SYSTEM = ("You are an expert planner. The grid state is given as text; rows are numbered from the top, "
                  "columns from the left, moves are L, R, U and D. Think briefly, then answer.")
TEACHER_STATE = ("Map 6x6. Player (0,0). Goal (5,4). Holes: (1,1) (2,3) (3,0) (4,4) (5,2).\n"
                 "Reference plan: R R D D D R D R")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mgsd_backend.bench_qwen", description=__doc__.split("\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tiny", help="random Qwen3-VL shape")
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    parser.add_argument("--batch", type=int, default=8, help="prompts per step")
    parser.add_argument("--new-tokens", type=int, default=128, help="max_new_tokens of each response")
    parser.add_argument("--image-px", type=int, default=256, help="square image side (256 → 64 image tokens)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda")
    parser.add_argument("--dtype", default=None, help="float32 | bfloat16 (default: float32 on CPU, bf16 on CUDA)")
    parser.add_argument("--lora-rank", type=int, default=8, help="0 trains all student weights")
    parser.add_argument("--gradient-checkpointing", action="store_true", help="non-reentrant, student only")
    parser.add_argument("--estimator", choices=ESTIMATORS, default="sampled",
                        help="distill_step estimator (teacher scored in-process)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.batch < 1 or args.new_tokens < 1:
        parser.error("--steps, --batch and --new-tokens must be at least 1")
    return args


def build_worker(args: argparse.Namespace, dtype: torch.dtype):
    """A `Worker` holding a random LoRA student (with AdamW) and a frozen teacher of one shape.

    The models are built in memory (a 4B checkpoint would take minutes to write and read back) and
    put in the worker's role slots; every timed call then goes through the worker's real ops."""
    from .optim import build_adamw
    from .worker import RoleState, Worker

    settings = ImageSettings(min_pixels=SHAPES[args.shape].min_pixels)
    lora = {"rank": args.lora_rank, "alpha": 2 * args.lora_rank, "dropout": 0.0} if args.lora_rank > 0 else None
    worker = Worker(threads=args.threads)
    model, tokenizer = build_random_qwen3_vl(args.shape, seed=args.seed, device=args.device, dtype=dtype)
    student = Qwen3VLPolicy(model, tokenizer, settings, lora=lora, trainable=True,
                            gradient_checkpointing=args.gradient_checkpointing, source=f"random-{args.shape}")
    worker.roles["student"] = RoleState(student, build_adamw(student.trainable_parameters(), (0.9, 0.95), 0.0, 1e-8))
    model, tokenizer = build_random_qwen3_vl(args.shape, seed=args.seed, device=args.device, dtype=dtype)
    teacher = Qwen3VLPolicy(model, tokenizer, settings, trainable=False, source=f"random-{args.shape}")
    worker.roles["teacher"] = RoleState(teacher, None)
    return worker, student


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run_step(args, worker, step: int) -> tuple[float, int, float]:
    """One rollout (`generate`) + one `distill_step` → (generate s, generated tokens, distill s)."""
    rng = np.random.default_rng(step)
    images = torch.from_numpy(rng.integers(0, 256, (args.batch, args.image_px, args.image_px, 3), dtype=np.uint8))
    student_views = [[{"role": "user", "content": [{"type": "text", "text": STUDENT_TEXT}, {"type": "image"}]}]
                     ] * args.batch
    teacher_views = [[{"role": "system", "content": [{"type": "text", "text": TEACHER_SYSTEM}]},
                      {"role": "user", "content": [{"type": "text", "text": TEACHER_STATE}]}]] * args.batch
    sampling = {"max_new_tokens": args.new_tokens, "temperature": 1.0, "top_p": 1.0, "seed": step}
    sync(args.device)
    start = time.perf_counter()
    _, rollout = worker.generate({"role": "student", "views": student_views, "sampling": sampling},
                                 {"images": images})
    sync(args.device)
    generated = time.perf_counter()
    distill_args = {"role": "student", "views": student_views, "estimator": args.estimator, "temperature": 1.0,
                    "lr": 1e-5, "grad_clip": 1.0, "clip": {"low": 0.2, "high": 0.3, "dual": 3.0}, "k": 32,
                    "teacher": {"source": "role", "role": "teacher", "views": teacher_views}}
    tensors = {"images": images, "response_ids": rollout["response_ids"], "response_mask": rollout["response_mask"],
               "old_logprobs": rollout["logprobs"]}
    worker.distill_step(distill_args, tensors)
    sync(args.device)
    return generated - start, int(rollout["response_mask"].sum()), time.perf_counter() - generated


def peak_memory_gib(device: str) -> dict[str, float]:
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is KiB on Linux
    out = {"peak_rss_gib": round(rss_gib, 3)}
    if device.startswith("cuda"):
        out["peak_gpu_allocated_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
        out["peak_gpu_reserved_gib"] = round(torch.cuda.max_memory_reserved() / 2**30, 3)
    return out


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("bench_qwen: --device cuda but torch sees no CUDA device; use --device cpu")
    dtype_name = args.dtype or ("float32" if args.device == "cpu" else "bfloat16")
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype_name]
    build_start = time.perf_counter()
    worker, student = build_worker(args, dtype)
    build_s = time.perf_counter() - build_start
    timings = [run_step(args, worker, step) for step in range(args.steps + 1)][1:]
    generate_s = [t[0] for t in timings]
    result = {
        "shape": args.shape, "device": str(student.device), "dtype": dtype_name, "batch": args.batch,
        "new_tokens": args.new_tokens, "image_px": args.image_px, "steps": args.steps,
        "lora_rank": args.lora_rank, "gradient_checkpointing": args.gradient_checkpointing,
        "estimator": args.estimator,
        "generate_tokens_per_s": round(sum(t[1] for t in timings) / sum(generate_s), 2),
        "generate_s_median": round(statistics.median(generate_s), 4),
        "distill_step_s_median": round(statistics.median(t[2] for t in timings), 4),
        "distill_step_s_mean": round(statistics.fmean(t[2] for t in timings), 4),
        "build_s": round(build_s, 2), **peak_memory_gib(args.device),
        "params": student.describe()["params"], "trainable_params": student.describe()["trainable_params"],
        "torch": torch.__version__, "transformers": student.describe()["transformers"],
        "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
