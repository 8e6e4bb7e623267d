"""`cuda` inside a rank group means the rank's own GPU (LOCAL_RANK modulo the GPUs, made current);
CPU devices, explicit indices and single processes are left alone. CUDA is simulated: the rule is
what is tested here, not a GPU."""

from __future__ import annotations

import torch

from mgsd_backend.models.registry import rank_device


def test_cuda_in_a_group_is_the_ranks_own_gpu(monkeypatch):
    current: list[int] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", current.append)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert rank_device("cuda") == "cuda:1" and current == [1]
    assert rank_device("cuda:0") == "cuda:0" and rank_device("cpu") == "cpu" and current == [1]
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert rank_device("cuda") == "cuda" and current == [1]
