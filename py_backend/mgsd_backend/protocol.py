"""The wire contract on the Python side, read from the generated `contract/protocol.schema.json`.

The contract is declared once, in TypeScript (`src/backend/protocol.ts`, zod), and
`npm run gen:contract` writes it as JSON Schema into this package; nothing here restates it.
This module exposes what the server needs by name: `PROTOCOL_VERSION`, the op names (`Op`),
the server's own ops, the vocabularies, each op's argument/result schema and tensor specs.
`validate.validate_request` checks every request against it before a handler sees it.

Tensor dimension letters: B batch (rows, shared by every tensor of a message), R response length,
K top-k, V vocabulary, H/W/C image height/width/channels.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .contract import CONTRACT, ESTIMATORS, HELLO, MAX_MESSAGE_MIB, MODEL_DTYPES, PROTOCOL_VERSION

__all__ = ["CONTRACT", "ESTIMATORS", "HELLO", "MAX_MESSAGE_MIB", "MODEL_DTYPES", "PROTOCOL_VERSION"]  # re-exported

Op = enum.StrEnum("Op", {name.upper(): name for name in CONTRACT["ops"]})  # type: ignore[misc]
"""Every op a worker answers (`Op.PING == "ping"`, …), in the contract's order."""

SERVER_OPS = frozenset(Op(name) for name in CONTRACT["server_ops"])
"""Ops the server answers itself; every other op is a model op served by `worker.Worker`."""
MODEL_OPS = frozenset(Op) - SERVER_OPS

WIRE_TEACHER_TENSORS: Mapping[str, tuple[str, ...]] = {k: tuple(v) for k, v in CONTRACT["wire_teacher_tensors"].items()}
"""distill_step with a wire teacher: the tensors each estimator needs."""

_TORCH_DTYPES = {"float32": torch.float32, "int64": torch.int64, "int32": torch.int32, "uint8": torch.uint8, "bool": torch.bool}
DTYPES: Mapping[str, torch.dtype] = {name: _TORCH_DTYPES[name] for name in CONTRACT["vocab"]["tensor_dtypes"]}
"""Wire dtype name → torch dtype (the only element types the wire carries)."""
DTYPE_NAMES: Mapping[torch.dtype, str] = {v: k for k, v in DTYPES.items()}


@dataclass(frozen=True)
class TensorSpec:
    """A tensor an op accepts or returns: wire dtype, allowed per-row ranks, whether it must be
    present, another tensor whose full shape it must equal, and the size of its last dimension."""

    dtype: str
    ranks: tuple[int, ...]
    required: bool = True
    same_shape_as: str | None = None
    last_dim: int | None = None


@dataclass(frozen=True)
class OpSchema:
    """One op's contract: JSON Schemas of its args and result, its request and reply tensors."""

    args: Mapping[str, Any]
    result: Mapping[str, Any]
    tensors: Mapping[str, TensorSpec] | None
    """None: any tensors (echo)."""
    reply_tensors: Mapping[str, TensorSpec] | None


def _specs(table: Mapping[str, Any] | None) -> Mapping[str, TensorSpec] | None:
    if table is None:
        return None
    return {
        name: TensorSpec(s["dtype"], tuple(s["ranks"]), s["required"], s.get("same_shape_as"), s.get("last_dim"))
        for name, s in table.items()
    }


SCHEMAS: Mapping[Op, OpSchema] = {
    Op(name): OpSchema(op["args"], op["result"], _specs(op["request_tensors"]), _specs(op["reply_tensors"]))
    for name, op in CONTRACT["ops"].items()
}
"""Each op's contract, by op."""
