"""Shared pieces of the Qwen3-VL tests: a tiny random Qwen3-VL built offline, views, images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mgsd_backend.models.base import ChatMessage, ChatPart
from mgsd_backend.models.qwen3_vl import build_hf_model

torch.set_num_threads(1)

IMAGE_PX = 64  # → a 4×4 patch grid → 4 merged image tokens


def student_view(instruction: str = "Find the goal. ") -> tuple:
    return (ChatMessage("user", (ChatPart("text", instruction), ChatPart("image"))),)


def teacher_view(state: str = "S.H\n..G") -> tuple:
    return (
        ChatMessage("system", (ChatPart("text", "You are a planner."),)),
        ChatMessage("user", (ChatPart("text", f"Grid:\n{state}"),)),
    )


def random_images(count: int, seed: int, px: int = IMAGE_PX) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, (count, px, px, 3), dtype=np.uint8))


def spec(path: Path, lora: dict | None = None, checkpointing: bool = False) -> dict:
    return {"kind": "hf", "path": str(path), "lora": lora, "gradient_checkpointing": checkpointing}


def load(path: Path, *, trainable: bool = False, lora: dict | None = None, checkpoint: str | None = None,
         checkpointing: bool = False):
    return build_hf_model(spec(path, lora, checkpointing), device="cpu", dtype="float32", seed=0,
                          trainable=trainable, checkpoint=checkpoint)
