"""Model spec → `PolicyModel`: the only switch on model kind.

Specs (docs/protocol.md): `{"kind": "tiny", "config": {...}, "path"?}` → `tiny_vlm.TinyVLM` (fresh, or
the saved model at `path`, e.g. a base written by `mgsd pretrain`, when no checkpoint is given);
`{"kind": "hf", "path", "lora", "gradient_checkpointing"}` → `qwen3_vl.build_hf_model`, imported
lazily so a tiny-only worker never imports transformers.

`checkpoint` is the directory a model's own `save` wrote (the worker passes `<ckpt>/model`). For
the tiny model the spec's config must equal the saved one: a silent shape change would load
weights into a different model than the experiment config describes.
"""

from __future__ import annotations

import os

from pathlib import Path
from typing import Any

import torch

from ..errors import ModelLoadError
from .base import PolicyModel

KINDS = ("tiny", "hf")


def build_model(spec: dict[str, Any], *, device: str, dtype: str, seed: int, trainable: bool,
                checkpoint: str | None) -> PolicyModel:
    """Builds (or loads from `checkpoint`) the model a spec describes, on `device` in `dtype`.

    Raises ModelLoadError saying what was wrong and what to change."""
    device = rank_device(device)
    kind = spec.get("kind")
    if kind == "tiny":
        return _build_tiny(spec, device=device, dtype=dtype, seed=seed, trainable=trainable,
                           checkpoint=checkpoint)
    if kind == "hf":
        from .qwen3_vl import build_hf_model

        return build_hf_model(spec, device=device, dtype=dtype, seed=seed, trainable=trainable,
                              checkpoint=checkpoint)
    raise ModelLoadError(f"model spec: unknown kind {kind!r}; expected one of {list(KINDS)}",
                         hint="Set model.kind to 'tiny' or 'hf' in the experiment config.")


def rank_device(device: str) -> str:
    """`cuda` inside a rank group is the rank's own GPU, `cuda:<LOCAL_RANK mod GPUs>`, made the current
    device (NCCL uses it), as under torchrun; `cuda:N`, `cpu` and a single process are unchanged.
    NOTE: written to PyTorch's documented pattern; not yet run on a GPU here."""
    if device != "cuda" or int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1 or not torch.cuda.is_available():
        return device
    index = int(os.environ.get("LOCAL_RANK", "0") or 0) % torch.cuda.device_count()
    torch.cuda.set_device(index)
    return f"cuda:{index}"


def _build_tiny(spec: dict[str, Any], *, device: str, dtype: str, seed: int, trainable: bool,
                checkpoint: str | None) -> PolicyModel:
    from .tiny_net import TinyVLMConfig
    from .tiny_vlm import TinyVLM, read_saved_config

    _check_device(device)
    if not isinstance(spec.get("config"), dict):
        raise ModelLoadError(f"tiny model spec: expected a `config` object, got {spec.get('config')!r}",
                             hint="Send {kind: 'tiny', config: {d_model, n_layers, n_heads, patch_px, max_seq_len, "
                                  "image_size_px}} (docs/protocol.md).")
    # Without a checkpoint the role starts from the spec's saved model (a pretrained base), if any.
    checkpoint = checkpoint if checkpoint is not None else spec.get("path")
    try:
        config = TinyVLMConfig.from_dict(spec["config"])
        if checkpoint is None:
            return TinyVLM.build(config.to_dict(), device=device, dtype=dtype, seed=seed, trainable=trainable)
        saved = TinyVLMConfig.from_dict(read_saved_config(Path(checkpoint))["config"])
    except ValueError as err:
        raise ModelLoadError(f"tiny model: {err}",
                             hint="Check model.tiny in the experiment config and the checkpoint path.") from err
    if saved != config:
        diff = {k: (v, saved.to_dict()[k]) for k, v in config.to_dict().items() if saved.to_dict()[k] != v}
        raise ModelLoadError(
            f"tiny model: checkpoint {checkpoint} was saved with a different config; (requested, saved): {diff}",
            hint="Use the model.tiny settings the checkpoint was trained with, or start from scratch.",
        )
    try:
        return TinyVLM.load(checkpoint, device=device, dtype=dtype, trainable=trainable)
    except (ValueError, RuntimeError, OSError) as err:
        raise ModelLoadError(f"tiny model: could not load checkpoint {checkpoint}: {err}",
                             hint="The checkpoint may be incomplete; load an earlier one.") from err


def _check_device(device: str) -> None:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(
            f"device {device!r} was requested but torch {torch.__version__} sees no CUDA device",
            hint="Set model.device to 'cpu', or run on a machine with a GPU (no silent CPU fallback).",
        )
    if not device.startswith(("cpu", "cuda")):
        raise ModelLoadError(f"device {device!r} is not supported; expected 'cpu' or 'cuda'",
                             hint="Set model.device to 'cpu' or 'cuda'.")
