"""AdamW path choice (optim.py): fused where torch has a kernel for the device, foreach otherwise,
with the same update either way; a restored optimizer keeps this process's choice."""

from __future__ import annotations

import torch

from mgsd_backend.optim import build_adamw, fused_supported, set_hyperparameters


def params(seed: int) -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(8, 4, generator=g)), torch.nn.Parameter(torch.randn(4, generator=g))]


def test_cpu_parameters_take_the_fused_path_and_update_like_foreach():
    fused_params, foreach_params = params(0), params(0)
    fused = build_adamw(fused_params, (0.9, 0.95), 0.1, 1e-8)
    foreach = torch.optim.AdamW([{"params": foreach_params[:1], "weight_decay": 0.1},
                                 {"params": foreach_params[1:], "weight_decay": 0.0}], lr=0.0, betas=(0.9, 0.95),
                                eps=1e-8, foreach=True)
    assert fused.defaults["fused"] is True
    for step in range(3):
        for opt, ps in ((fused, fused_params), (foreach, foreach_params)):
            for i, p in enumerate(ps):
                p.grad = torch.full_like(p, 0.1 * (step + 1) * (i + 1))
            for group in opt.param_groups:
                group["lr"] = 1e-2
            opt.step()
    for a, b in zip(fused_params, foreach_params):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_a_device_without_a_fused_kernel_says_so():
    ok, why = fused_supported([torch.nn.Parameter(torch.empty(2, device="meta"))])
    assert not ok and "meta" in why


def test_a_restored_state_does_not_switch_the_path():
    opt = build_adamw(params(1), (0.9, 0.95), 0.0, 1e-8)
    saved = opt.state_dict()
    for group in saved["param_groups"]:
        group["fused"] = None  # as written by a foreach optimizer
    opt.load_state_dict(saved)
    set_hyperparameters(opt, (0.9, 0.95), 0.0, 1e-8)
    assert all(group["fused"] is True for group in opt.param_groups)
