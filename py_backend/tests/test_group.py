"""Rank groups on gloo (CPU): 2 ranks give what 1 rank gives, and a rank that raises gives an
error reply naming it while the group keeps serving. Each test spawns real rank processes
(group_harness.py); the 1-rank and 2-rank runs are computed once per module."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from mgsd_backend.contract import PEER_LOST_EXIT_CODE
from mgsd_backend.group.rows import merge, row_range, shard
from group_harness import run_script
from tiny_fixtures import CLIP, images, load_args, student_views, teacher_views

B = 5  # odd: the shards are uneven (3 + 2)
TARGETS = ["RRDD", "DL", "URRD", "LLU", "D"]


def _responses(seed: int = 3) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 30, (B, 7), generator=g)
    lengths = torch.tensor([7, 3, 5, 1, 6])
    mask = torch.arange(7)[None, :] < lengths[:, None]
    return {"response_ids": ids.masked_fill(~mask, 0), "response_mask": mask}


def _script(save_dir: str) -> list:
    views, imgs = student_views(B), images(B, seed=1)
    sft = {"role": "student", "views": views, "targets": TARGETS, "append_eos": True, "lr": 3e-3, "grad_clip": 1.0}
    teacher = {"source": "role", "role": "teacher", "views": teacher_views(B)}
    distill = {"role": "student", "views": views, "estimator": "sampled", "temperature": 1.0, "lr": 3e-3,
               "grad_clip": 0.05, "clip": CLIP, "teacher": teacher, "k": None}
    sampling = {"max_new_tokens": 8, "temperature": 0.0, "top_p": 1.0, "seed": 7}
    score = {"role": "student", "views": views, "temperature": 1.0, "mode": "token"}
    return [
        ("load", load_args("student", seed=0), {}),
        ("load", load_args("teacher", seed=9, trainable=False), {}),
        ("sft_step", sft, {"images": imgs}),
        ("sft_step", sft, {"images": imgs}),
        ("distill_step", distill, {"images": imgs, **_responses()}),
        ("generate", {"role": "student", "views": views, "sampling": sampling}, {"images": imgs}),
        ("score", score, {"images": imgs, **_responses()}),
        ("save", {"role": "student", "dir": save_dir, "include_optimizer": True}, {}),
        ("generate", {"role": "student", "views": views, "sampling": {**sampling, "temperature": 1.0}}, {"images": imgs}),
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for world in (1, 2):
        directory = tmp_path_factory.mktemp(f"world{world}") / "ckpt"
        out[world] = (run_script(world, _script(str(directory))), directory)
    return out


def _ok(reply):
    assert reply[0] == "ok", reply
    return reply[1], reply[2]


def test_training_steps_give_the_same_loss_metrics_and_weights_at_two_ranks(runs):
    one, two = runs[1][0], runs[2][0]
    for index in (2, 3, 4):  # sft, sft, distill
        (r1, t1), (r2, t2) = _ok(one[index]), _ok(two[index])
        assert r1["tokens"] == r2["tokens"]
        for key in ("loss", "grad_norm", "kl", "student_entropy", "log_ratio_mean"):
            if key in r1:
                assert r2[key] == pytest.approx(r1[key], rel=1e-5, abs=1e-6), (index, key, r1, r2)
        for name in t1:
            torch.testing.assert_close(t2[name], t1[name], rtol=1e-5, atol=1e-6)
    w1 = load_file(str(runs[1][1] / "model" / "model.safetensors"))
    w2 = load_file(str(runs[2][1] / "model" / "model.safetensors"))
    assert w1.keys() == w2.keys()
    for name in w1:
        # Adam divides by sqrt(v): float-order differences of tiny gradients show up at ~1e-6 after a step
        torch.testing.assert_close(w2[name], w1[name], rtol=1e-4, atol=2e-5)


def test_generate_and_score_split_over_two_ranks_equal_one_rank(runs):
    (g1, gt1), (g2, gt2) = _ok(runs[1][0][5]), _ok(runs[2][0][5])
    assert g2["texts"] == g1["texts"]
    for name in ("response_ids", "response_mask"):
        assert torch.equal(gt2[name], gt1[name]), name
    torch.testing.assert_close(gt2["logprobs"], gt1["logprobs"], rtol=1e-5, atol=1e-5)
    (_, s1), (_, s2) = _ok(runs[1][0][6]), _ok(runs[2][0][6])
    torch.testing.assert_close(s2["logprobs"], s1["logprobs"], rtol=1e-5, atol=1e-5)


def test_sampling_at_temperature_1_split_over_two_ranks_equals_one_rank(runs):
    # Seeds follow the row (SamplingParams.row_offset), not the rank.
    (g1, gt1), (g2, gt2) = _ok(runs[1][0][8]), _ok(runs[2][0][8])
    assert g2["texts"] == g1["texts"]
    assert torch.equal(gt2["response_ids"], gt1["response_ids"])


def test_a_rank_that_raises_gives_one_error_reply_naming_it_and_the_group_keeps_serving():
    views, imgs = student_views(4), images(4, seed=2)
    sft = {"role": "student", "views": views, "targets": TARGETS[:4], "append_eos": True, "lr": 1e-3, "grad_clip": 1.0}
    sampling = {"max_new_tokens": 4, "temperature": 0.0, "top_p": 1.0, "seed": 0}
    replies = run_script(2, [
        ("raise_on_rank", 1),
        ("load", load_args("student", seed=0), {}),
        ("sft_step", sft, {"images": imgs}),
        ("sft_step", sft, {"images": imgs}),
        ("generate", {"role": "student", "views": views, "sampling": sampling}, {"images": imgs}),
    ])
    status, code, message = replies[1]
    assert (status, code) == ("error", "rank_failed"), replies[1]
    assert "sft_step: rank 1 failed on rows [2, 4) of the request" in message and "injected failure on rank 1" in message
    assert replies[2][0] == "ok" and replies[2][1]["tokens"] > 0
    assert replies[3][0] == "ok" and len(replies[3][1]["texts"]) == 4


def test_a_rank_that_hangs_past_the_collective_timeout_ends_rank_0_with_the_peer_lost_status(capfd):
    views, imgs = student_views(2), images(2, seed=2)
    sft = {"role": "student", "views": views, "targets": TARGETS[:2], "append_eos": True, "lr": 1e-3, "grad_clip": 1.0}
    # Rank 1 sleeps 10 s inside the op; had rank 0 waited for it, the step would have succeeded.
    replies = run_script(2, [("hang_on_rank", 1, 10.0), ("load", load_args("student", seed=0), {}),
                             ("sft_step", sft, {"images": imgs})], collective_timeout_s=3)
    assert replies == [("exited", PEER_LOST_EXIT_CODE)]
    err = capfd.readouterr().err
    assert "rank 0/2: sft_step: status exchange waited" in err and "another rank hung" in err, err


@pytest.mark.parametrize("batch,world", [(5, 2), (1, 2), (8, 3), (2, 4)])
def test_row_ranges_cover_the_batch_in_order_and_shard_every_row_field(batch, world):
    ranges = [row_range(batch, r, world) for r in range(world)]
    assert ranges[0][0] == 0 and ranges[-1][1] == batch
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    assert max(b - a for a, b in ranges) - min(b - a for a, b in ranges) <= 1
    args = {"views": list(range(batch)), "targets": list(range(batch)), "teacher": {"views": list(range(batch))}}
    parts = [shard(args, {"x": torch.arange(batch)}, a, b) for a, b in ranges]
    assert [v for p in parts for v in p[0]["teacher"]["views"]] == list(range(batch))
    merged = merge([({"texts": p[0]["views"]}, p[1]) for p in parts if p[0]["views"]], {})
    assert merged[0]["texts"] == list(range(batch)) and torch.equal(merged[1]["x"], torch.arange(batch))


def test_merge_pads_response_width_with_the_pad_value():
    a = ({}, {"response_ids": torch.ones(2, 3, dtype=torch.long), "response_mask": torch.ones(2, 3, dtype=torch.bool)})
    b = ({}, {"response_ids": torch.ones(1, 5, dtype=torch.long), "response_mask": torch.ones(1, 5, dtype=torch.bool)})
    _, out = merge([a, b], {"response_ids": 9})
    assert out["response_ids"].shape == (3, 5) and out["response_ids"][0, 3:].tolist() == [9, 9]
    assert out["response_mask"][:2, 3:].sum() == 0
