"""Micro-batching (gradient accumulation) of one training step: the rows of a step run through
forward/backward `micro_batch_size` at a time, then one optimizer update.

Semantics do not change: each micro-batch's token-mean loss is weighted by its share of the
step's response tokens (over every rank of a group) before backward, so the accumulated gradient
is the gradient of the token-mean over the whole batch; metrics are token-weighted means (counts are summed); per-row
output tensors are concatenated in row order. Only memory changes (activations of one micro-batch).

Every request argument that holds one entry per row (`views`, `targets`, a role teacher's
`views`) and every tensor (rows first) is sliced the same way.
"""

from __future__ import annotations

from typing import Any

import torch

Tensors = dict[str, torch.Tensor]
SUMMED = ("tokens",)
KEPT = ("lr", "kl_kind")


def row_slices(rows: int, size: int | None) -> list[slice]:
    """Consecutive slices of at most `size` rows (one slice when size is None or ≥ rows)."""
    if not size or size >= rows:
        return [slice(0, rows)]
    return [slice(start, min(start + size, rows)) for start in range(0, rows, size)]


def slice_request(args: dict[str, Any], tensors: Tensors, rows: slice) -> tuple[dict[str, Any], Tensors]:
    """The request restricted to `rows` (no `micro_batch_size`, so it is never split again)."""
    sub = {k: v for k, v in args.items() if k != "micro_batch_size"}
    for key in ("views", "targets"):
        if key in sub:
            sub[key] = sub[key][rows]
    teacher = sub.get("teacher")
    if isinstance(teacher, dict) and "views" in teacher:
        sub["teacher"] = {**teacher, "views": teacher["views"][rows]}
    return sub, {name: tensor[rows] for name, tensor in tensors.items()}


def combine_results(parts: list[dict[str, Any]], tokens: list[int]) -> dict[str, Any]:
    """Token-weighted means of the micro-batches' metrics (sums for counts; None stays None)."""
    total = sum(tokens)
    out: dict[str, Any] = {}
    for key, value in parts[0].items():
        values = [part[key] for part in parts]
        if key in KEPT or not isinstance(value, (int, float)) or isinstance(value, bool):
            out[key] = value
        elif any(v is None for v in values):
            out[key] = None
        elif key in SUMMED:
            out[key] = sum(values)
        else:
            out[key] = sum(float(v) * n for v, n in zip(values, tokens)) / max(total, 1)
    return out


def combine_tensors(parts: list[Tensors]) -> Tensors:
    """Per-row tensors of the micro-batches, in row order ({} when none has any)."""
    return {name: torch.cat([part[name] for part in parts], 0) for name in parts[0]} if parts else {}
