"""Row ops of a sharded (FSDP2) hf model on a 2-rank group, through the real dispatcher: a rank
that gets no rows still runs the forward passes whose all-gathers pair with the other rank's
(generate and score of one row), and a training step whose rows would give the ranks different
numbers of forward/backward passes is refused on every rank with one clear error, not a hang."""

from __future__ import annotations

from pathlib import Path

import torch

from group_harness import run_script
from qwen_fixtures import random_images, spec

OPTIMIZER = {"betas": [0.9, 0.999], "weight_decay": 0.0, "eps": 1e-8}


def views(n: int) -> list:
    return [[{"role": "user", "content": [{"type": "text", "text": f"Plan {i}. "}, {"type": "image"}]}] for i in range(n)]


def test_one_row_ops_and_uneven_training_steps_on_a_sharded_two_rank_group(tiny_dir):
    load = {"role": "student", "model": spec(Path(tiny_dir)), "checkpoint": None, "trainable": True,
            "optimizer": OPTIMIZER, "device": "cpu", "dtype": "float32", "seed": 0}
    sampling = {"max_new_tokens": 5, "temperature": 1.0, "top_p": 1.0, "seed": 3}
    sft = {"role": "student", "views": views(3), "targets": ["L", "RD", "U"], "append_eos": True, "lr": 1e-3,
           "grad_clip": 1.0, "micro_batch_size": 1}
    one = {"images": random_images(1, 2)}
    replies = run_script(2, [
        ("load", load, {}),
        ("generate", {"role": "student", "views": views(1), "sampling": sampling}, one),
        ("score", {"role": "student", "views": views(1), "temperature": 1.0, "mode": "token"},
         {**one, "response_ids": torch.tensor([[5, 6, 7]]),
          "response_mask": torch.tensor([[True, True, False]])}),
        ("sft_step", sft, {"images": random_images(3, 4)}),
        ("generate", {"role": "student", "views": views(1), "sampling": sampling}, one),
    ], timeout_s=180)
    assert [reply[0] for reply in replies] == ["ok", "ok", "ok", "error", "ok"], replies
    assert len(replies[1][1]["texts"]) == 1 and replies[1][2]["response_ids"].shape[0] == 1
    assert replies[2][2]["logprobs"].shape == (1, 3)
    assert "every rank must run the same number of forward/backward passes" in replies[3][2]
    assert replies[4][2]["response_ids"].tolist() == replies[1][2]["response_ids"].tolist()
