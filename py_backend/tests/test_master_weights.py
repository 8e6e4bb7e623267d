"""fp32 master weights vs bf16 in place, seen through the update monitor (sharding/update_monitor.py).

At lr 1e-6 an AdamW update (~lr per element) is far below half a bf16 ulp of a typical weight, so
bf16 weights updated in place barely move while fp32 masters take nearly every update."""

from __future__ import annotations

import pytest
import torch

from mgsd_backend.sharding.master_weights import plan_precision
from mgsd_backend.sharding.update_monitor import UpdateMonitor
from mgsd_backend.worker import Worker
from qwen_fixtures import random_images, spec

VIEWS = [[{"role": "user", "content": [{"type": "text", "text": f"Plan {i}. "}, {"type": "image"}]}] for i in range(2)]
OPTIMIZER = {"betas": [0.9, 0.999], "weight_decay": 0.0, "eps": 1e-8}


def changed_fractions(tiny_dir, masters: str, steps: int = 2) -> list[dict]:
    worker = Worker(threads=1)
    model = {**spec(tiny_dir), "master_weights": masters}
    loaded, _ = worker.load({"role": "student", "model": model, "trainable": True, "optimizer": OPTIMIZER,
                             "device": "cpu", "dtype": "bfloat16", "seed": 0}, {})
    assert loaded["describe"]["master_weights"] == masters
    args = {"role": "student", "views": VIEWS, "targets": ["LDRU", "RRDD"], "append_eos": True, "lr": 1e-6,
            "grad_clip": 1.0}
    return [worker.sft_step(args, {"images": random_images(2, 3)})[0] for _ in range(steps)]


def test_fp32_masters_take_most_updates_at_lr_1e_6_and_bf16_in_place_rounds_them_away(tiny_dir):
    fp32 = changed_fractions(tiny_dir, "fp32")
    bf16 = changed_fractions(tiny_dir, "bf16")
    for result in fp32:
        assert result["update_changed_fraction"] > 0.8, result
    for result in bf16:
        assert result["update_changed_fraction"] < 0.1, result
    assert fp32[0]["update_rel_norm"] > 2 * bf16[0]["update_rel_norm"]


def test_fp32_masters_store_float32_parameters_and_compute_in_bfloat16(tiny_dir):
    worker = Worker(threads=1)
    loaded, _ = worker.load({"role": "student", "model": spec(tiny_dir), "trainable": True, "optimizer": OPTIMIZER,
                             "device": "cpu", "dtype": "bfloat16", "seed": 0}, {})
    describe = loaded["describe"]
    assert (describe["param_dtype"], describe["compute_dtype"]) == ("float32", "bfloat16")
    assert {p.dtype for p in worker.roles["student"].model.trainable_parameters()} == {torch.float32}


def test_frozen_models_and_float32_compute_need_no_masters():
    assert not plan_precision(torch.bfloat16, "fp32", trainable=False).is_mixed
    assert not plan_precision(torch.float32, "fp32", trainable=True).is_mixed
    with pytest.raises(ValueError, match="master_weights 'fp16'"):
        plan_precision(torch.bfloat16, "fp16", trainable=True)


def test_the_monitor_measures_relative_norm_and_changed_share_exactly():
    params = [torch.nn.Parameter(torch.tensor([3.0, 4.0])), torch.nn.Parameter(torch.zeros(2))]
    monitor = UpdateMonitor(params)
    with torch.no_grad():
        params[0][0] += 1.0  # Δ = (1, 0, 0, 0); ‖θ‖ = 5
    assert monitor.measure() == {"update_rel_norm": pytest.approx(0.2), "update_changed_fraction": 0.25}


def test_a_large_model_is_measured_on_a_bounded_strided_sample():
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(1000)), torch.nn.Parameter(torch.randn(30, 10))]
    monitor = UpdateMonitor(params, max_snapshot=100)
    assert monitor.stride == 13  # ceil(1300 / 100)
    with torch.no_grad():
        for p in params:
            p.mul_(1.01)  # every weight changes by 1 %
    measured = monitor.measure()
    assert measured["update_changed_fraction"] == 1.0
    assert measured["update_rel_norm"] == pytest.approx(0.01, rel=1e-4)
