"""hf models under FSDP2 on 2 gloo CPU ranks equal the unsharded model on one process.

One SFT step with an image: rows split across ranks, token-mean over the global batch (each rank
back-propagates its token sum / the global token count; FSDP2 sums the gradients over ranks),
global gradient clipping, AdamW. The loss, the gathered weights after the step and the update
monitor agree with the single-process step within float tolerance."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from dist_helpers import run_ranks
from mgsd_backend.chat_views import parse_views
from mgsd_backend.losses.logprobs import token_logprobs
from mgsd_backend.models.qwen3_vl import build_hf_model
from mgsd_backend.optim import apply_update, build_adamw
from mgsd_backend.sharding import fsdp
from mgsd_backend.sharding.update_monitor import UpdateMonitor
from qwen_fixtures import random_images, spec

ROWS = 4
TARGETS = ["LDRU go", "R", "DDRR then U", "UL"]
LR, CLIP = 1e-2, 0.5


def views(rows: range):
    raw = [[{"role": "user", "content": [{"type": "text", "text": f"Plan {i}. "}, {"type": "image"}]}] for i in rows]
    return parse_views(raw, "views")


def sft_step(tiny_dir: str, rank: int, world: int, checkpointing: bool = False) -> dict:
    model = build_hf_model(spec(Path(tiny_dir), checkpointing=checkpointing), device="cpu", dtype="float32", seed=0,
                           trainable=True, checkpoint=None)
    params = model.trainable_parameters()
    optimizer = build_adamw(params, (0.9, 0.999), 0.0, 1e-8)
    per_rank = ROWS // world
    rows = range(rank * per_rank, (rank + 1) * per_rank)
    prompts = model.encode_prompts(views(rows), random_images(ROWS, 7)[rows.start:rows.stop])
    ids_BR, mask_BR = model.encode_targets([TARGETS[i] for i in rows], True)
    tokens = torch.tensor(float(mask_BR.sum()))
    if world > 1:
        dist.all_reduce(tokens)
    model.train(True)
    with model.compute_context():
        hidden_ND = model.response_hidden(prompts, ids_BR, mask_BR)[mask_BR]
        logprobs_N, _ = token_logprobs(model, hidden_ND, ids_BR[mask_BR], 1.0)
        token_sum = -logprobs_N.sum()
    loss = token_sum / tokens  # this rank's share of the global token-mean
    monitor = UpdateMonitor(params)
    grad_norm = apply_update(params, optimizer, loss, LR, CLIP, "test")
    update = monitor.measure()
    global_loss = token_sum.detach().clone()
    if world > 1:
        dist.all_reduce(global_loss)
    state = fsdp.full_state_dict(model.module()) if world > 1 else model.module().state_dict()
    state = {k.removeprefix("core."): v.detach().clone() for k, v in state.items()}
    return {"loss": float(global_loss / tokens), "grad_norm": grad_norm, "update": update, "state": state,
            "describe": model.describe()}


def _rank_job(rank: int, world: int, tiny_dir: str, checkpointing: bool) -> dict:
    return sft_step(tiny_dir, rank, world, checkpointing)


@pytest.mark.parametrize("checkpointing", [False, True], ids=["plain", "activation-checkpointing"])
def test_two_fsdp2_ranks_take_the_same_step_as_one_process(tiny_dir, checkpointing):
    # The reference runs the same layers the same way: with checkpointing the last layer runs at
    # full width (qwen3_vl_tail.py), and at lr 1e-2 Adam turns that float noise into visible updates.
    single = sft_step(str(tiny_dir), 0, 1, checkpointing)
    sharded = run_ranks(_rank_job, 2, str(tiny_dir), checkpointing)
    lead = sharded[0]
    assert lead["describe"]["sharding"] == {"kind": "fsdp2", "world_size": 2}
    assert sharded[1]["state"] == {}  # only rank 0 receives the gathered weights
    assert abs(lead["loss"] - single["loss"]) < 1e-5, (lead["loss"], single["loss"])
    assert abs(lead["grad_norm"] - single["grad_norm"]) < 1e-4 * single["grad_norm"]
    assert single["grad_norm"] > CLIP  # the clip was active, so the global norm mattered
    assert set(lead["state"]) == set(single["state"])
    for key, value in single["state"].items():
        torch.testing.assert_close(torch.from_numpy(lead["state"][key]), value, atol=2e-5, rtol=1e-4, msg=key)
    for name in ("update_rel_norm", "update_changed_fraction"):
        assert abs(lead["update"][name] - single["update"][name]) < 1e-3 * max(1e-9, single["update"][name]) + 1e-6
        assert lead["update"][name] == sharded[1]["update"][name]


def greedy_rows(rank: int, world: int, tiny_dir: str) -> list:
    from mgsd_backend.models.base import SamplingParams

    model = build_hf_model(spec(Path(tiny_dir)), device="cpu", dtype="float32", seed=0, trainable=True,
                           checkpoint=None)
    per_rank = ROWS // world
    rows = range(rank * per_rank, (rank + 1) * per_rank)
    prompts = model.encode_prompts(views(rows), random_images(ROWS, 7)[rows.start:rows.stop])
    with model.compute_context(sampling=True):
        out = model.generate(prompts, SamplingParams(6, 0.0, 1.0, 0))
    return out.response_ids_BR.tolist()


def test_sharded_models_sample_what_the_unsharded_model_samples(tiny_dir):
    single = greedy_rows(0, 1, str(tiny_dir))
    sharded = run_ranks(greedy_rows, 2, str(tiny_dir))
    assert sharded[0] + sharded[1] == single


def rows_where_rank_0_stops_at_once(rank: int, world: int, tiny_dir: str) -> dict:
    """Greedy rows of this rank; on rank 0 of a group every id is a stop id, so its rows end after
    one token while the other rank's go on (their lengths must not desynchronise the collectives)."""
    from mgsd_backend.models.base import SamplingParams

    model = build_hf_model(spec(Path(tiny_dir)), device="cpu", dtype="float32", seed=0, trainable=True,
                           checkpoint=None)
    if world > 1 and rank == 0:
        model._stop_ids = list(range(len(model.tokenizer)))
    per_rank = ROWS // world
    rows = range(rank * per_rank, (rank + 1) * per_rank)
    prompts = model.encode_prompts(views(rows), random_images(ROWS, 7)[rows.start:rows.stop])
    with model.compute_context(sampling=True):
        out = model.generate(prompts, SamplingParams(6, 0.0, 1.0, 0))
    return {"ids": out.response_ids_BR.tolist(), "lengths": out.response_mask_BR.sum(-1).tolist()}


def test_ranks_keep_decoding_together_when_one_ranks_rows_stop_first(tiny_dir):
    single = rows_where_rank_0_stops_at_once(0, 1, str(tiny_dir))
    first, second = run_ranks(rows_where_rank_0_stops_at_once, 2, str(tiny_dir))
    assert first["lengths"] == [1, 1]
    assert second["ids"] == single["ids"][2:] and second["lengths"] == single["lengths"][2:]
    assert max(second["lengths"]) > 1  # the other rank did decode past rank 0's stop


def bf16_step(rank: int, world: int, tiny_dir: str, masters: str) -> dict:
    model = build_hf_model({**spec(Path(tiny_dir)), "master_weights": masters}, device="cpu", dtype="bfloat16",
                           seed=0, trainable=True, checkpoint=None)
    params = model.trainable_parameters()
    local_dtypes = {str(p.to_local().dtype) for p in params}
    optimizer = build_adamw(params, (0.9, 0.999), 0.0, 1e-8)
    prompts = model.encode_prompts(views(range(rank, rank + 1)), random_images(1, rank))
    ids_BR, mask_BR = model.encode_targets([TARGETS[rank]], True)
    with model.compute_context():
        hidden_ND = model.response_hidden(prompts, ids_BR, mask_BR)[mask_BR]
        logprobs_N, _ = token_logprobs(model, hidden_ND, ids_BR[mask_BR], 1.0)
    monitor = UpdateMonitor(params)
    apply_update(params, optimizer, -logprobs_N.mean(), 1e-6, 1.0, "test")
    return {"dtypes": sorted(local_dtypes), "update": monitor.measure(), "describe": model.describe()}


def test_fsdp2_keeps_fp32_master_shards_under_bf16_compute_and_bf16_in_place_rounds_away(tiny_dir):
    for result in run_ranks(bf16_step, 2, str(tiny_dir), "fp32"):
        assert result["dtypes"] == ["torch.float32"]
        assert result["describe"]["compute_dtype"] == "bfloat16"
        assert result["update"]["update_changed_fraction"] > 0.8, result["update"]
    for result in run_ranks(bf16_step, 2, str(tiny_dir), "bf16"):
        assert result["dtypes"] == ["torch.bfloat16"]
        assert result["update"]["update_changed_fraction"] < 0.1, result["update"]


def frozen_logits(rank: int, world: int, tiny_dir: str) -> list:
    model = build_hf_model({**spec(Path(tiny_dir)), "cpu_offload": True}, device="cpu", dtype="float32", seed=0,
                           trainable=False, checkpoint=None)
    prompts = model.encode_prompts(views(range(2)), random_images(2, 3))
    ids_BR, mask_BR = model.encode_targets(["LDRU", "RR"], True)
    with torch.no_grad(), model.compute_context():
        return model.logits(model.response_hidden(prompts, ids_BR, mask_BR)[mask_BR]).tolist()


def test_a_frozen_teacher_sharded_with_cpu_offload_scores_like_the_unsharded_one(tiny_dir):
    single = torch.tensor(frozen_logits(0, 1, str(tiny_dir)))
    for result in run_ranks(frozen_logits, 2, str(tiny_dir)):
        torch.testing.assert_close(torch.tensor(result), single, atol=1e-5, rtol=1e-5)


def worker_distill(rank: int, world: int, tiny_dir: str) -> dict:
    """distill_step through the Worker with a sharded student and a sharded in-process teacher.
    Every rank sends the same rows with its local token-mean (splitting rows into shares of the
    global mean is the worker group's job), so the summed gradient is `world` times the
    single-process one; a small grad clip makes both clipped updates the same."""
    from mgsd_backend.worker import Worker

    worker = Worker(threads=1)
    base = {"model": spec(Path(tiny_dir)), "device": "cpu", "dtype": "float32", "seed": 0}
    worker.load({**base, "role": "student", "trainable": True,
                 "optimizer": {"betas": [0.9, 0.999], "weight_decay": 0.0, "eps": 1e-8}}, {})
    worker.load({**base, "role": "teacher", "trainable": False, "optimizer": None}, {})
    students = [[{"role": "user", "content": [{"type": "text", "text": f"Plan {i}. "}, {"type": "image"}]}]
                for i in range(2)]
    teachers = [[{"role": "user", "content": [{"type": "text", "text": f"S.{i}\n.HG"}]}] for i in range(2)]
    images = random_images(2, 5)
    sampling = {"max_new_tokens": 6, "temperature": 1.0, "top_p": 1.0, "seed": 3}
    _, rollout = worker.generate({"role": "student", "views": students, "sampling": sampling}, {"images": images})
    args = {"role": "student", "views": students, "estimator": "full", "temperature": 1.0, "lr": 1e-2,
            "grad_clip": 1e-3, "clip": {"low": 0.2, "high": 0.3, "dual": 3.0}, "k": 4,
            "teacher": {"source": "role", "role": "teacher", "views": teachers}}
    tensors = {"images": images, "response_ids": rollout["response_ids"], "response_mask": rollout["response_mask"]}
    result, _ = worker.distill_step(args, tensors)
    module = worker.roles["student"].model.module()
    state = fsdp.full_state_dict(module) if world > 1 else module.state_dict()
    return {"result": {k: result[k] for k in ("loss", "kl", "grad_norm", "update_rel_norm")},
            "ids": rollout["response_ids"], "state": {k: v.detach().clone() for k, v in state.items()}}


def test_distill_step_through_the_worker_with_sharded_student_and_teacher_matches_one_process(tiny_dir):
    single = worker_distill(0, 1, str(tiny_dir))
    lead = run_ranks(worker_distill, 2, str(tiny_dir))[0]
    assert lead["ids"].tolist() == single["ids"].tolist()  # seeded sampling is the same sharded
    assert single["result"]["grad_norm"] > 1e-3  # the clip is active in both
    assert abs(lead["result"]["grad_norm"] - 2 * single["result"]["grad_norm"]) < 1e-4 * single["result"]["grad_norm"]
    for key in ("loss", "kl", "update_rel_norm"):
        value = single["result"][key]
        assert abs(lead["result"][key] - value) < 1e-4 * max(1.0, abs(value)), (key, lead["result"], single["result"])
    for key, value in single["state"].items():
        torch.testing.assert_close(torch.from_numpy(lead["state"][key]), value, atol=2e-5, rtol=1e-4, msg=key)
