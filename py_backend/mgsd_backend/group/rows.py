"""Row shards of a request and the merge of the ranks' replies back into one reply.

Rows are the batch dimension: `args.views`, `args.targets`, `args.teacher.views` and every
request tensor have one entry per row, row i of each belonging together (an image row i belongs
to view i). Rank r gets the contiguous rows [a, b) of `row_range`, balanced so the shard sizes
differ by at most one and the leading ranks take the extra rows; rank 0 therefore has rows
whenever the batch has any. Replies are concatenated in rank order, which is row order; tensors
whose second dimension differs between shards (the response width of `generate`) are padded to
the widest shard with the op's pad value, so the merged reply equals what one rank would send.

Only the row ops are sharded; every other model op (load, save) runs whole on every rank.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..protocol import Op

ROW_OPS = frozenset({Op.GENERATE, Op.SCORE, Op.SFT_STEP, Op.DISTILL_STEP, Op.PG_STEP})
"""Ops whose rows are split across the ranks."""
TRAINING_OPS = frozenset({Op.SFT_STEP, Op.DISTILL_STEP, Op.PG_STEP})
"""Row ops that also update weights: every rank runs them, even on an empty shard (collectives)."""

Tensors = dict[str, torch.Tensor]
Part = tuple[dict[str, Any], Tensors]


def row_range(batch: int, rank: int, world: int) -> tuple[int, int]:
    """Rows [a, b) of rank `rank` in a batch of `batch` rows split over `world` ranks."""
    base, extra = divmod(batch, world)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def batch_size(args: Mapping[str, Any]) -> int:
    """Rows of a row op's request (one view per row)."""
    return len(args["views"])


def shard(args: Mapping[str, Any], tensors: Tensors, start: int, stop: int) -> tuple[dict[str, Any], Tensors]:
    """The request restricted to rows [start, stop) (args deep-copied; tensors are views)."""
    local = copy.deepcopy(dict(args))
    local["views"] = local["views"][start:stop]
    if "targets" in local:
        local["targets"] = local["targets"][start:stop]
    teacher = local.get("teacher")
    if isinstance(teacher, dict) and "views" in teacher:
        teacher["views"] = teacher["views"][start:stop]
    return local, {name: tensor[start:stop] for name, tensor in tensors.items()}


def merge(parts: Sequence[Part], pad_values: Mapping[str, float | int]) -> Part:
    """Rank-ordered replies → one reply: rank 0's result (global metrics are already reduced in
    the op), `texts` concatenated, `op_seconds` the slowest rank's, tensors concatenated by row."""
    result = dict(parts[0][0])
    if "texts" in result:
        result["texts"] = [text for part in parts for text in part[0].get("texts", [])]
    seconds = [part[0]["op_seconds"] for part in parts if "op_seconds" in part[0]]
    if seconds:
        result["op_seconds"] = max(seconds)
    names = [name for name in parts[0][1]]
    tensors = {name: _concat([part[1][name] for part in parts if name in part[1]], pad_values.get(name, 0))
               for name in names}
    return result, tensors


def _concat(pieces: list[torch.Tensor], pad: float | int) -> torch.Tensor:
    if len(pieces) == 1:
        return pieces[0]
    if pieces[0].ndim >= 2:
        width = max(piece.shape[1] for piece in pieces)
        pieces = [_pad_dim1(piece, width, pad) for piece in pieces]
    return torch.cat(pieces, dim=0)


def _pad_dim1(tensor: torch.Tensor, width: int, pad: float | int) -> torch.Tensor:
    if tensor.shape[1] == width:
        return tensor
    shape = (tensor.shape[0], width - tensor.shape[1], *tensor.shape[2:])
    filler = torch.full(shape, pad, dtype=tensor.dtype) if tensor.dtype != torch.bool else torch.zeros(shape, dtype=torch.bool)
    return torch.cat([tensor, filler], dim=1)
