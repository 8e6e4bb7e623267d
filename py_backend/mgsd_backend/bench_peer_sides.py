"""One side of `npm run bench:peer` (bench_peer.py) in its own process: TRL's `DistillationTrainer`
or mgsd's OPSD step, timed per warm step with a per-phase split.

    python -m mgsd_backend.bench_peer_sides --side trl|mgsd|mgsd-text --spec FILE --case NAME \
        --threads N --steps N --warmup N

`trl` runs in the peer venv (.venv-peer, which has TRL and torchvision); `mgsd*` in the project's.
The spec file (written by bench_peer.py) names the model directory and, per case, the student
views, the teacher's text-only views and the images (uint8 RGB, base64). The last stdout line is
one JSON object: `{"side", "case", "threads", "step_s": [...], "cpu_s": [...] (this process's CPU
seconds per step, all threads), "phases": {phase: [...]},
"response_tokens": [...]}`, one entry per timed (warm) step.

Phases, the same definitions on both sides: `encode` (prompt encoding: chat template + image
patches; TRL's processor calls, mgsd's codec), `generate` (KV-cached sampling, 16 tokens),
`teacher` (the frozen teacher's no-grad backbone forward), `optimizer` (grad-norm clip + AdamW
step), and `student` = the rest of the step (student forward with grad, the loss including both
output heads, backward). Nested timed calls count once (the outermost).
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import os
import shutil
import sys
import tempfile
import time

PHASES = ("encode", "generate", "teacher", "optimizer")


class PhaseTimer:
    """Accumulates wall seconds per phase for the current step; nested timed calls count once."""

    def __init__(self) -> None:
        self.current = dict.fromkeys(PHASES, 0.0)
        self._depth = 0

    def wrap(self, owner, name: str, phase: str, when=None) -> None:
        """Replaces `owner.name` by a timed version (only when `when()` is true, if given)."""
        inner = getattr(owner, name)

        @functools.wraps(inner)
        def timed(*args, **kwargs):
            if self._depth or (when is not None and not when()):
                return inner(*args, **kwargs)
            self._depth += 1
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.current[phase] += time.perf_counter() - start
                self._depth -= 1

        setattr(owner, name, timed)

    def take(self) -> dict[str, float]:
        out, self.current = self.current, dict.fromkeys(PHASES, 0.0)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mgsd_backend.bench_peer_sides")
    parser.add_argument("--side", choices=("trl", "mgsd", "mgsd-text", "codec"), required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--case", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    with open(args.spec, encoding="utf-8") as f:
        spec = json.load(f)
    case = spec["cases"][args.case]
    if args.side == "codec":
        print(json.dumps(time_codecs(spec, case, args.steps)))
        return 0
    available = len(case["student_views"]) // int(case["batch"])
    if args.warmup + args.steps > available:
        raise SystemExit(f"bench_peer_sides: {args.warmup + args.steps} steps asked but the case has {available} "
                         f"distinct batches; lower --steps/--warmup or build more batches (src/bench/peer.ts)")
    run = run_trl if args.side == "trl" else run_mgsd
    steps, cpu, phases, tokens = run(spec, case, args)
    keep = slice(args.warmup, None)
    result = {"side": args.side, "case": args.case, "threads": args.threads, "step_s": steps[keep],
              "cpu_s": cpu[keep],
              "phases": {p: [step[p] for step in phases[keep]] for p in PHASES}, "response_tokens": tokens[keep]}
    print(json.dumps(result))
    return 0


def images_of(case: dict):
    import numpy as np
    import torch

    raw = np.frombuffer(base64.b64decode(case["images_b64"]), dtype=np.uint8)
    px = int(case["px"])
    return torch.from_numpy(raw.reshape(-1, px, px, 3).copy())


# ---- mgsd -------------------------------------------------------------------------------------


def run_mgsd(spec: dict, case: dict, args):
    """generate + distill_step (estimator `full`, teacher in-process) through the worker's own ops,
    as the OPSD loop sends them. `mgsd` gives the teacher the student's view (the same work as
    TRL); `mgsd-text` gives it MGSD's privileged text-only view."""
    import torch

    from .worker import Worker

    worker = Worker(threads=args.threads)
    model = {"kind": "hf", "path": spec["model_dir"], "lora": None, "gradient_checkpointing": False}
    optimizer = {"betas": [0.9, 0.999], "weight_decay": 0.0, "eps": 1e-8}  # TRL's defaults
    for role, trainable in (("student", True), ("teacher", False)):
        worker.load({"role": role, "model": model, "checkpoint": None, "trainable": trainable,
                     "optimizer": optimizer if trainable else None, "device": "cpu", "dtype": "float32",
                     "seed": 0}, {})
    student, teacher = worker.roles["student"].model, worker.roles["teacher"].model
    timer = PhaseTimer()
    for owner in (student, teacher):
        timer.wrap(owner, "encode_prompts", "encode")
    timer.wrap(student, "generate", "generate")
    timer.wrap(teacher, "response_hidden", "teacher")
    timer.wrap(torch.nn.utils, "clip_grad_norm_", "optimizer")
    timer.wrap(worker.roles["student"].optimizer, "step", "optimizer")
    all_images, batch = images_of(case), int(case["batch"])
    steps, cpu, phases, tokens = [], [], [], []
    for step in range(args.warmup + args.steps):
        rows = slice(step * batch, (step + 1) * batch)  # new prompts every step, as in a run
        views, images = case["student_views"][rows], all_images[rows]
        teacher_views = views if args.side == "mgsd" else case["teacher_views"][rows]
        start, cpu_start = time.perf_counter(), time.process_time()
        sampling = {"max_new_tokens": spec["new_tokens"], "temperature": 1.0, "top_p": 1.0, "seed": step}
        _, rollout = worker.generate({"role": "student", "views": views, "sampling": sampling}, {"images": images})
        worker.distill_step({"role": "student", "views": views, "estimator": "full", "temperature": 1.0,
                             "lr": 1e-6, "grad_clip": 1.0, "clip": {"low": 0.2, "high": 0.3, "dual": 3.0}, "k": None,
                             "teacher": {"source": "role", "role": "teacher", "views": teacher_views}},
                            {"images": images, "response_ids": rollout["response_ids"],
                             "response_mask": rollout["response_mask"]})
        steps.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
        phases.append(timer.take())
        tokens.append(int(rollout["response_mask"].sum()))
    return steps, cpu, phases, tokens


# ---- prompt encoding: mgsd's codec against the HF processor -------------------------------------


def time_codecs(spec: dict, case: dict, reps: int) -> dict:
    """Median ms per call encoding the case's 4 student prompts (chat template, tokens, image
    patches, padding), alternating mgsd's codec and the checkpoint's HF processor (with
    torchvision: the peer venv), in this one process."""
    import statistics

    from PIL import Image
    from transformers import AutoConfig, AutoProcessor

    from .chat_views import parse_views
    from .models.qwen3_vl_codec import ImageSettings, Qwen3VLCodec

    processor = AutoProcessor.from_pretrained(spec["model_dir"], padding_side="left")
    config = AutoConfig.from_pretrained(spec["model_dir"])
    codec = Qwen3VLCodec(processor.tokenizer, ImageSettings.from_directory(spec["model_dir"]),
                         image_token_id=config.image_token_id, pad_id=processor.tokenizer.pad_token_id)
    batch = int(case["batch"])
    images, views = images_of(case)[:batch], case["student_views"][:batch]
    pil = [Image.fromarray(row) for row in images.numpy()]
    conversations = [[{**m, "content": [{"type": "image", "image": pil[i]} if p["type"] == "image" else p
                                        for p in m["content"]]} for m in view]
                     for i, view in enumerate(views)]
    runs = {
        "mgsd_codec": lambda: codec.encode(parse_views(views, "views"), images),
        "hf_processor": lambda: processor.apply_chat_template(conversations, add_generation_prompt=True, tokenize=True,
                                                              return_dict=True, return_tensors="pt",
                                                              processor_kwargs={"padding": True}),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for rep in range(reps + 2):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            if rep >= 2:
                times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


# ---- TRL --------------------------------------------------------------------------------------


def run_trl(spec: dict, case: dict, args):
    """TRL's `DistillationTrainer`, fully on-policy (every batch generated by the student), beta 1
    (reverse KL), teacher on the same view, float32, no gradient checkpointing, TRL's default
    (fused) AdamW, lr 1e-6, clip 1.0, 4 prompts per step."""
    import torch
    from datasets import Dataset
    from PIL import Image
    from transformers import Qwen3VLForConditionalGeneration, TrainerCallback
    from trl import DistillationConfig, DistillationTrainer

    images = images_of(case).numpy()
    batch = int(case["batch"])
    rows = [{"prompt": case["student_views"][i], "image": Image.fromarray(images[i])}
            for i in range(batch * (args.warmup + args.steps))]  # in order: step b gets mgsd's batch b
    student = Qwen3VLForConditionalGeneration.from_pretrained(spec["model_dir"], dtype=torch.float32)
    teacher = Qwen3VLForConditionalGeneration.from_pretrained(spec["model_dir"], dtype=torch.float32)
    out_dir = tempfile.mkdtemp(prefix="mgsd-bench-peer-trl-")
    config = DistillationConfig(
        output_dir=out_dir, use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=False,
        per_device_train_batch_size=batch, gradient_accumulation_steps=1, max_steps=args.warmup + args.steps,
        learning_rate=1e-6, lr_scheduler_type="constant", weight_decay=0.0, max_grad_norm=1.0,
        max_completion_length=spec["new_tokens"], temperature=1.0, top_p=1.0, top_k=0, beta=1.0,
        shuffle_dataset=False, report_to="none", save_strategy="no", logging_steps=10_000,
        dataloader_num_workers=0, disable_dropout=True, seed=0,
    )
    trainer = DistillationTrainer(model=student, teacher_model=teacher, args=config,
                                  train_dataset=Dataset.from_list(rows))
    timer = PhaseTimer()
    processor = trainer.processing_class
    for owner in (type(processor), type(processor.image_processor)):
        timer.wrap(owner, "__call__", "encode")
    timer.wrap(type(processor), "apply_chat_template", "encode")
    timer.wrap(trainer, "_generate_single_turn", "generate")
    timer.wrap(trainer, "_get_last_hidden_state", "teacher", when=lambda: not torch.is_grad_enabled())
    timer.wrap(trainer, "_clip_grad_norm", "optimizer")
    steps, cpu, phases, tokens = [], [], [], []
    recorder = _StepRecorder(timer, steps, cpu, phases)
    trainer.add_callback(recorder)
    inner_generate = trainer._generate_single_turn

    def counting(*a, **kw):
        completion_ids = inner_generate(*a, **kw)
        tokens.append(sum(len(ids) for ids in completion_ids))
        return completion_ids

    trainer._generate_single_turn = counting
    assert isinstance(recorder, TrainerCallback)
    try:
        trainer.train()
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return steps, cpu, phases, tokens


def _step_recorder_class():
    from transformers import TrainerCallback

    class StepRecorder(TrainerCallback):
        """Step wall time from `on_step_begin` to `on_step_end`; the optimizer step bracketed."""

        def __init__(self, timer: PhaseTimer, steps: list, cpu: list, phases: list) -> None:
            self.timer, self.steps, self.cpu, self.phases = timer, steps, cpu, phases
            self.start = self.cpu_start = self.opt_start = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self.timer.take()
            self.start, self.cpu_start = time.perf_counter(), time.process_time()

        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            self.opt_start = time.perf_counter()

        def on_optimizer_step(self, args, state, control, **kwargs):
            self.timer.current["optimizer"] += time.perf_counter() - self.opt_start

        def on_step_end(self, args, state, control, **kwargs):
            self.steps.append(time.perf_counter() - self.start)
            self.cpu.append(time.process_time() - self.cpu_start)
            self.phases.append(self.timer.take())

    return StepRecorder


def _StepRecorder(timer: PhaseTimer, steps: list, cpu: list, phases: list):
    return _step_recorder_class()(timer, steps, cpu, phases)


if __name__ == "__main__":
    sys.exit(main())
