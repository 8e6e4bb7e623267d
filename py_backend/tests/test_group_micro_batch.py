"""Micro-batched training steps in a 2-rank group equal the whole step: on a replicated (tiny)
model, whose ranks hold different numbers of micro-batches (5 rows → 3 + 2, micro-batches of 2 →
2 + 1), against the whole batch on one rank; on a sharded (FSDP2) hf model, against its own
whole-batch step, with targets of different lengths so each micro-batch's weight matters."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from group_harness import run_script
from qwen_fixtures import random_images, spec
from test_group import B, TARGETS, _ok, _responses
from tiny_fixtures import CLIP, images, load_args, student_views, teacher_views


def _tiny_script(save_dir: str, micro: int | None) -> list:
    views, imgs = student_views(B), images(B, seed=1)
    common = {"role": "student", "views": views, "lr": 3e-3, "micro_batch_size": micro}
    sft = {**common, "targets": TARGETS, "append_eos": True, "grad_clip": 1.0}
    teacher = {"source": "role", "role": "teacher", "views": teacher_views(B)}
    distill = {**common, "estimator": "sampled", "temperature": 1.0, "grad_clip": 0.05, "clip": CLIP,
               "teacher": teacher, "k": None}
    return [
        ("load", load_args("student", seed=0), {}),
        ("load", load_args("teacher", seed=9, trainable=False), {}),
        ("sft_step", sft, {"images": imgs}),
        ("distill_step", distill, {"images": imgs, **_responses()}),
        ("save", {"role": "student", "dir": save_dir, "include_optimizer": False}, {}),
    ]


def _assert_same_steps(whole: list, micro: list, indices: tuple[int, ...]) -> None:
    for index in indices:
        (r1, t1), (r2, t2) = _ok(whole[index]), _ok(micro[index])
        assert r1["tokens"] == r2["tokens"]
        for key in ("loss", "grad_norm", "kl", "log_ratio_mean"):
            if key in r1:
                assert r2[key] == pytest.approx(r1[key], rel=1e-5, abs=1e-6), (index, key, r1, r2)
        for name in t1:
            torch.testing.assert_close(t2[name], t1[name], rtol=1e-5, atol=1e-6)


def _assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = load_file(str(a / "model" / "model.safetensors")), load_file(str(b / "model" / "model.safetensors"))
    assert wa.keys() == wb.keys()
    for name in wa:
        torch.testing.assert_close(wb[name], wa[name], rtol=1e-4, atol=2e-5)


def test_micro_batches_of_a_replicated_model_at_two_ranks_equal_the_whole_step_at_one(tmp_path):
    whole = run_script(1, _tiny_script(str(tmp_path / "whole"), None))
    micro = run_script(2, _tiny_script(str(tmp_path / "micro"), 2))
    _assert_same_steps(whole, micro, (2, 3))
    assert _ok(micro[2])[0]["micro_batches"] == 2  # rank 0's 3 rows; rank 1 ran its 2 rows and one empty
    _assert_same_weights(tmp_path / "whole", tmp_path / "micro")


def _sharded_script(tiny_dir: Path, micro: int | None) -> list:
    views = [[{"role": "user", "content": [{"type": "text", "text": f"Plan {i}. "}, {"type": "image"}]}]
             for i in range(4)]
    load = {"role": "student", "model": spec(tiny_dir), "checkpoint": None, "trainable": True,
            "optimizer": {"betas": [0.9, 0.999], "weight_decay": 0.0, "eps": 1e-8}, "device": "cpu",
            "dtype": "float32", "seed": 0}
    sft = {"role": "student", "views": views, "targets": ["L", "RDRDRDRD", "UU", "DLDLDLDLDLDL"],
           "append_eos": True, "lr": 1e-3, "grad_clip": 1.0, "micro_batch_size": micro}
    # The weights after the step, seen through the log-probs they give (a sharded save is per rank).
    score = {"role": "student", "views": views, "temperature": 1.0, "mode": "token"}
    responses = {"response_ids": torch.arange(5, 37).view(4, 8), "response_mask": torch.ones(4, 8, dtype=torch.bool)}
    return [("load", load, {}), ("sft_step", sft, {"images": random_images(4, 4)}),
            ("score", score, {"images": random_images(4, 4), **responses})]


def test_micro_batches_of_a_sharded_model_weigh_each_by_its_share_of_the_groups_tokens(tiny_dir):
    # 2 rows a rank, one per micro-batch, of 2 to 13 tokens: weighing a micro-batch by this rank's
    # tokens instead of the group's would give another gradient.
    whole = run_script(2, _sharded_script(tiny_dir, None), timeout_s=240)
    micro = run_script(2, _sharded_script(tiny_dir, 1), timeout_s=240)
    _assert_same_steps(whole, micro, (1,))
    assert _ok(micro[1])[0]["micro_batches"] == 2
    (_, before), (_, after) = _ok(whole[2]), _ok(micro[2])
    torch.testing.assert_close(after["logprobs"], before["logprobs"], rtol=1e-4, atol=1e-5)
