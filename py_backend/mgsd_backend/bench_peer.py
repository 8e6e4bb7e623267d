"""`npm run bench:peer`: mgsd's OPSD step against TRL's `DistillationTrainer`, side by side.

    python -m mgsd_backend.bench_peer --cases FILE [--threads-list 1,2] [--rounds 3] [--steps 6]
        [--warmup 2] [--new-tokens 16] [--peer-venv DIR]

(`src/bench/peer.ts` writes FILE from the tasks' prompts and runs this.) The peer venv
(default `.venv-peer/` beside the project's `.venv`, gitignored) is created on first use: a venv
whose `project.pth` puts the project venv's site-packages after its own, so torch, transformers
and the project's requirements are the very same builds on both sides, plus the pinned
`requirements-peer.txt` (TRL and the torchvision its Qwen3-VL processor needs) installed into it.
It then builds the tiny random Qwen3-VL (every weight trainable) and, for each case (`real`: mgsd's
real OPSD student views, one 256 px image each, 4 prompts; `short`: a short prompt with a 64 px
image) and thread count, runs fresh processes (bench_peer_sides.py) alternately — TRL, mgsd, then
mgsd, TRL, … — each timing `--steps` warm steps after `--warmup`.

The same work on both sides: 4 prompts, 16 sampled tokens at T 1.0 (top-p 1, no top-k), reverse
KL over the full vocabulary (TRL beta 1; mgsd estimator `full`), teacher = a frozen copy of the
student reading the student's view, float32, no gradient checkpointing, AdamW lr 1e-6 (betas 0.9,
0.999, no weight decay), clip 1.0. What differs: TRL drives its step through `Trainer` (data
loader, callbacks, logging) and mgsd through the worker's `generate` + `distill_step` ops (its
CLI adds nothing measurable on top, issue 11); TRL's default AdamW is fused, mgsd's is fused where
torch has the kernel (CPU here); mgsd's forwards compute the last decoder layer only at the
columns whose output is read (the response-predicting ones; a prefill's last) and the vision patch
embedding as one matrix product (docs/qwen3-vl.md, "Work only where it is read"), where TRL's run
the stock layers at full width: the same results, less work; sampling RNG differs, so responses
can stop at EOS at different points (mean response tokens are reported per side). For the real case a third side,
`mgsd-text`, times mgsd with MGSD's own privileged teacher view (text-only symbolic state +
reference plan: no image in the teacher's pass), which is what an mgsd OPSD run does.

Output: a table per case × threads (median step seconds and CPU seconds per side over all warm
steps, the paired ratio = median over rounds of mgsd's median / TRL's median, for wall time and
for CPU time, and per-phase wall medians), then one JSON object as the last stdout line. On a
shared machine wall times swing several-fold between runs; at 1 thread the CPU-seconds ratio is
the load-robust figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PEER_REQUIREMENTS = PROJECT_ROOT / "requirements-peer.txt"
PHASES = ("encode", "generate", "teacher", "student", "optimizer")
TARGET_RATIO = 0.9


class BenchError(RuntimeError):
    """The benchmark could not run; the message says which step and what to do."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mgsd_backend.bench_peer", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", required=True, help="JSON file of views and images (written by src/bench/peer.ts)")
    parser.add_argument("--threads-list", default="1,2")
    parser.add_argument("--rounds", type=int, default=3, help="alternated runs per side (default 3)")
    parser.add_argument("--steps", type=int, default=6, help="timed warm steps per run (default 6)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per run (default 2)")
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--case-list", default="real,short")
    parser.add_argument("--peer-venv", default=str(PROJECT_ROOT / ".venv-peer"))
    args = parser.parse_args(argv)
    peer_python = ensure_peer_venv(Path(args.peer_venv))
    with tempfile.TemporaryDirectory(prefix="mgsd-bench-peer-") as tmp:
        from .models.tiny_qwen3_vl import write_random_qwen3_vl

        model_dir = write_random_qwen3_vl(Path(tmp) / "model", shape="tiny", seed=0)
        with open(args.cases, encoding="utf-8") as f:
            cases = json.load(f)["cases"]
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps({"model_dir": str(model_dir), "new_tokens": args.new_tokens, "cases": cases}))
        results, codecs = [], {}
        for case in [c for c in args.case_list.split(",") if c]:
            codecs[case] = run_codec(peer_python, case, spec_path)
            print(f"prompt encoding, {case}, 4 prompts: {codecs[case]}", file=sys.stderr)
            for threads in [int(t) for t in args.threads_list.split(",") if t]:
                results.append(run_config(case, threads, args, spec_path, peer_python))
                print(format_config(results[-1]), file=sys.stderr)
    summary = {"bench": "peer", "trl": pinned("trl"), "new_tokens": args.new_tokens, "rounds": args.rounds,
               "steps": args.steps, "configs": results, "encode_ms_per_call": codecs,
               "target": {"ratio_at_most": TARGET_RATIO,
                          "met": all(r["paired_ratio"] <= TARGET_RATIO for r in results),
                          "met_in_cpu_seconds": all(r["paired_cpu_ratio"] <= TARGET_RATIO for r in results)}}
    for case, ms in codecs.items():
        print(f"prompt encoding ({case}, 4 prompts, median ms per call): mgsd codec {ms['mgsd_codec']:.2f}, "
              f"HF processor {ms['hf_processor']:.2f}")
    for r in results:
        print(format_config(r))
    print(json.dumps(summary))
    return 0


def run_config(case: str, threads: int, args, spec_path: Path, peer_python: Path) -> dict:
    """All rounds of one case × thread count, sides alternated (TRL first in even rounds)."""
    sides = ["trl", "mgsd"] + (["mgsd-text"] if case == "real" else [])
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    for r in range(args.rounds):
        order = sides if r % 2 == 0 else sides[::-1]
        for side in order:
            python = peer_python if side == "trl" else Path(sys.executable)
            runs[side].append(run_side(python, side, case, threads, args, spec_path))
    out: dict = {"case": case, "threads": threads, "sides": {}}
    for side, side_runs in runs.items():
        steps = [s for run in side_runs for s in run["step_s"]]
        phases = {p: statistics.median(x for run in side_runs for x in run["phases"][p])
                  for p in PHASES if p != "student"}
        # `student` is the rest of the step: forward with grad, the loss (both heads), backward.
        phases["student"] = statistics.median(
            s - sum(run["phases"][p][i] for p in phases)
            for run in side_runs for i, s in enumerate(run["step_s"]))
        tokens = [t for run in side_runs for t in run["response_tokens"]]
        out["sides"][side] = {"median_step_s": statistics.median(steps), "round_medians_s":
                              [statistics.median(run["step_s"]) for run in side_runs],
                              "median_cpu_s": statistics.median(c for run in side_runs for c in run["cpu_s"]),
                              "round_medians_cpu_s": [statistics.median(run["cpu_s"]) for run in side_runs],
                              "phases_s": {p: phases[p] for p in PHASES}, "mean_response_tokens": statistics.mean(tokens)}
    trl, mgsd = out["sides"]["trl"]["round_medians_s"], out["sides"]["mgsd"]["round_medians_s"]
    out["paired_ratio"] = statistics.median(m / t for m, t in zip(mgsd, trl))
    # CPU seconds per step: at 1 thread a load-robust measure of the work (wall time on a shared
    # machine swings several-fold); at 2 threads it counts both threads, so it is work, not speed.
    trl_cpu, mgsd_cpu = out["sides"]["trl"]["round_medians_cpu_s"], out["sides"]["mgsd"]["round_medians_cpu_s"]
    out["paired_cpu_ratio"] = statistics.median(m / t for m, t in zip(mgsd_cpu, trl_cpu))
    if "mgsd-text" in out["sides"]:
        text = out["sides"]["mgsd-text"]["round_medians_s"]
        out["paired_ratio_text_teacher"] = statistics.median(m / t for m, t in zip(text, trl))
    return out


def run_codec(peer_python: Path, case: str, spec_path: Path) -> dict:
    """mgsd's codec against the HF processor on one case's first batch (peer venv: torchvision)."""
    args = argparse.Namespace(steps=20, warmup=0)
    return run_side(peer_python, "codec", case, 1, args, spec_path)


def run_side(python: Path, side: str, case: str, threads: int, args, spec_path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "py_backend"), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TQDM_DISABLE": "1",
           # Idle OpenMP workers sleep instead of spinning: on a shared, oversubscribed machine a
           # spinning 2-thread run was measured at 10x its normal step time. Same for both sides.
           "OMP_WAIT_POLICY": "PASSIVE"}
    command = [str(python), "-m", "mgsd_backend.bench_peer_sides", "--side", side, "--spec", str(spec_path),
               "--case", case, "--threads", str(threads), "--steps", str(args.steps), "--warmup", str(args.warmup)]
    child = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if child.returncode != 0:
        sys.stderr.write(child.stderr[-4000:])
        raise BenchError(f"bench_peer: side {side} ({case}, {threads} thread(s)) exited {child.returncode}; "
                         f"its stderr is above. Command: {' '.join(command)}")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    if side == "codec":
        return result
    print(f"  {side:9s} {case} t={threads}: median {statistics.median(result['step_s']):.3f} s", file=sys.stderr)
    return result


def format_config(r: dict) -> str:
    lines = [f"case {r['case']}, {r['threads']} thread(s): mgsd/TRL paired ratio {r['paired_ratio']:.3f} "
             f"(CPU seconds: {r['paired_cpu_ratio']:.3f})"
             + (f" (mgsd with its text-only teacher: {r['paired_ratio_text_teacher']:.3f})"
                if "paired_ratio_text_teacher" in r else "")]
    lines.append(f"  {'side':10s} {'step s':>7s} {'cpu s':>7s} " + " ".join(f"{p:>9s}" for p in PHASES) + "  tokens")
    for side, s in r["sides"].items():
        lines.append(f"  {side:10s} {s['median_step_s']:7.3f} {s['median_cpu_s']:7.3f} "
                     + " ".join(f"{s['phases_s'][p]:9.4f}" for p in PHASES) + f"  {s['mean_response_tokens']:.1f}")
    return "\n".join(lines)


def ensure_peer_venv(venv: Path) -> Path:
    """Creates (once) the peer venv layered over this interpreter's environment; returns its python."""
    python = venv / "bin" / "python"
    marker = venv / "mgsd-peer-requirements.txt"
    wanted = PEER_REQUIREMENTS.read_text()
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    import sysconfig

    print(f"bench_peer: setting up {venv} (TRL and torchvision, once)", file=sys.stderr)
    _check_call([sys.executable, "-m", "venv", str(venv)], "create the peer venv")
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "project.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _check_call([str(python), "-m", "pip", "install", "-q", "-r", str(PROJECT_ROOT / "requirements.txt"),
                 "-r", str(PEER_REQUIREMENTS)], "install TRL into the peer venv")
    marker.write_text(wanted)
    return python


def pinned(name: str) -> str:
    for line in PEER_REQUIREMENTS.read_text().splitlines():
        if line.split("==")[0].strip() == name:
            return line.split("==")[1].strip()
    raise BenchError(f"{PEER_REQUIREMENTS}: no pin for {name}")


def _check_call(command: list[str], what: str) -> None:
    child = subprocess.run(command, check=False)
    if child.returncode != 0:
        raise BenchError(f"bench_peer: could not {what} (exit {child.returncode}): {' '.join(command)}. "
                         "Check network access to the package index, or remove the venv and retry.")


if __name__ == "__main__":
    sys.exit(main())
