"""Inputs shared by the tiny-model, loss, worker and checkpoint tests: small configs, JSON views,
images that differ per sample, and `load` arguments. Pure builders, no state."""

from __future__ import annotations

import torch

from mgsd_backend.models.base import ChatMessage, ChatPart

SMALL_CONFIG = {"d_model": 64, "n_layers": 2, "n_heads": 4, "patch_px": 8, "max_seq_len": 128, "image_size_px": 40}
OPTIMIZER = {"betas": [0.9, 0.95], "weight_decay": 0.01, "eps": 1e-8}
CLIP = {"low": 0.2, "high": 0.3, "dual": 3.0}


def load_args(role: str, *, seed: int = 0, trainable: bool = True, checkpoint: str | None = None,
              config: dict | None = None) -> dict:
    """A full `load` request for a tiny model on CPU."""
    return {"role": role, "model": {"kind": "tiny", "config": dict(config or SMALL_CONFIG)},
            "checkpoint": checkpoint, "trainable": trainable, "optimizer": OPTIMIZER if trainable else None,
            "device": "cpu", "dtype": "float32", "seed": seed}


def images(n: int, seed: int = 0, size: int = 40) -> torch.Tensor:
    """n distinct blocky RGB images [n, size, size, 3] uint8 (8 px cells, like the compact renders)."""
    g = torch.Generator().manual_seed(seed)
    cells = torch.randint(0, 4, (n, size // 8, size // 8), generator=g)
    palette = torch.tensor([[200, 230, 255], [20, 40, 120], [40, 200, 60], [240, 200, 40]], dtype=torch.uint8)
    return palette[cells].repeat_interleave(8, dim=1).repeat_interleave(8, dim=2).contiguous()


def student_views(n: int, prompt: str = "plan>") -> list:
    """JSON views: one user message [image, text]."""
    return [[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}] for _ in range(n)]


def teacher_views(n: int) -> list:
    """JSON text-only views (system + user), different per sample."""
    return [[{"role": "system", "content": [{"type": "text", "text": "teach"}]},
             {"role": "user", "content": [{"type": "text", "text": f"S.{i}\n.HG>"}]}] for i in range(n)]


def text_view(text: str, with_image: bool = False) -> tuple[ChatMessage, ...]:
    """A `base.View` of one user message."""
    parts = ((ChatPart("image"),) if with_image else ()) + (ChatPart("text", text),)
    return (ChatMessage("user", parts),)
