"""The update monitor's two numbers on a hand-made update (sharding/update_monitor.py)."""

from __future__ import annotations

import math

import torch

from mgsd_backend.sharding.update_monitor import UpdateMonitor


def test_rel_norm_and_changed_fraction_over_parameters_of_mixed_dtypes():
    a = torch.nn.Parameter(torch.tensor([3.0, 4.0, 0.0]))
    b = torch.nn.Parameter(torch.tensor([[1.0, 2.0]], dtype=torch.bfloat16))
    monitor = UpdateMonitor([a, b])
    with torch.no_grad():
        a[0] += 1.0  # 3 → 4
        b[0, 1] -= 2.0  # 2 → 0
    out = monitor.measure()
    theta = math.sqrt(9 + 16 + 1 + 4)
    assert math.isclose(out["update_rel_norm"], math.sqrt(1 + 4) / theta, rel_tol=1e-12)
    assert out["update_changed_fraction"] == 2 / 5


def test_a_strided_snapshot_counts_only_the_sampled_elements():
    p = torch.nn.Parameter(torch.arange(10.0))
    monitor = UpdateMonitor([p], max_snapshot=5)  # stride 2: elements 0, 2, 4, 6, 8
    with torch.no_grad():
        p[1] += 5.0  # not sampled
        p[2] += 1.0
    out = monitor.measure()
    assert monitor.stride == 2
    assert out["update_changed_fraction"] == 1 / 5
    assert math.isclose(out["update_rel_norm"], 1 / math.sqrt(0 + 4 + 16 + 36 + 64), rel_tol=1e-12)
