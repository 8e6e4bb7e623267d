"""The wire contract on the Python side (docs/protocol.md; mirror of `src/backend/protocol.ts`).

Declares, once: `PROTOCOL_VERSION`, the op names (`Op`), and each op's request schema — its JSON
arguments (`checks` checkers) and its tensors (dtype, per-row rank, optional or required). The
server runs `validate.validate_request` on every request before it reaches a handler, so the
worker's ops only ever see well-formed input.

Tensor dimension letters: B batch (rows, shared by every tensor of a message), R response length,
K top-k, V vocabulary, H/W/C image height/width/channels.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .checks import Bool, Field, Int, ListOf, Nullable, Num, Obj, OneOf, Str, Tagged
from .errors import RequestError

PROTOCOL_VERSION = 1
"""Bumped on any incompatible change of framing, tensors or op schemas (both sides at once)."""


class Op(enum.StrEnum):
    """Every op a worker answers. `hello` is the worker's first message, never a request."""

    PING = "ping"
    ECHO = "echo"
    STOP = "stop"
    SET_THREADS = "set_threads"
    LOAD = "load"
    GENERATE = "generate"
    SCORE = "score"
    SFT_STEP = "sft_step"
    DISTILL_STEP = "distill_step"
    PG_STEP = "pg_step"
    SAVE = "save"


HELLO = "hello"
SERVER_OPS = frozenset({Op.PING, Op.ECHO, Op.STOP, Op.SET_THREADS})
"""Ops the server answers itself; every other op is a model op served by `worker.Worker`."""
MODEL_OPS = frozenset(Op) - SERVER_OPS

DTYPES: Mapping[str, torch.dtype] = {
    "float32": torch.float32,
    "int64": torch.int64,
    "int32": torch.int32,
    "uint8": torch.uint8,
    "bool": torch.bool,
}
"""Wire dtype name → torch dtype (the only element types the wire carries)."""
DTYPE_NAMES: Mapping[torch.dtype, str] = {v: k for k, v in DTYPES.items()}


@dataclass(frozen=True)
class TensorSpec:
    """A tensor an op accepts: wire dtype, allowed per-row ranks, whether it must be present,
    and (optionally) another tensor whose full shape it must equal."""

    dtype: str
    ranks: tuple[int, ...]
    required: bool = True
    same_shape_as: str | None = None


@dataclass(frozen=True)
class OpSchema:
    args: Obj | None
    """None: any arguments (echo)."""
    tensors: Mapping[str, TensorSpec] | None
    """None: any tensors (echo)."""


# ---- argument pieces ---------------------------------------------------------------------------
_role = Str(min_length=1)
_lr = Num(low=0)
_grad_clip = Num(low=0, low_open=True)
_temperature = Num(low=0, low_open=True)
_part = Tagged("type", {"text": Obj({"type": Field(Str()), "text": Field(Str())}), "image": Obj({"type": Field(Str())})})
_message = Obj({"role": Field(OneOf(("system", "user", "assistant"))), "content": Field(ListOf(_part, min_length=1))})
_views = ListOf(ListOf(_message, min_length=1), min_length=1)
_clip = Obj({"low": Field(Num(low=0)), "high": Field(Num(low=0)), "dual": Field(Num(low=1))})
_tiny_config = Obj({k: Field(Int(low=1)) for k in ("d_model", "n_layers", "n_heads", "patch_px", "max_seq_len", "image_size_px")})
_lora = Obj({"rank": Field(Int(low=1)), "alpha": Field(Num(low=0, low_open=True)), "dropout": Field(Num(low=0, high=1, high_open=True))})
_model = Tagged(
    "kind",
    {
        "tiny": Obj({"kind": Field(Str()), "config": Field(_tiny_config)}),
        "hf": Obj(
            {
                "kind": Field(Str()),
                "path": Field(Str(min_length=1)),
                "lora": Field(Nullable(_lora)),
                "gradient_checkpointing": Field(Bool()),
                # fp32 (default): fp32 master weights under bf16 compute; bf16: in place (EasyR1 parity).
                "master_weights": Field(OneOf(("fp32", "bf16")), required=False),
                # A frozen model's FSDP shards live in CPU memory (CPUOffloadPolicy).
                "cpu_offload": Field(Bool(), required=False),
            }
        ),
    },
)
_optimizer = Obj(
    {
        "betas": Field(ListOf(Num(low=0, high=1, high_open=True), length=2)),
        "weight_decay": Field(Num(low=0)),
        "eps": Field(Num(low=0, low_open=True)),
    }
)
_teacher = Tagged(
    "source",
    {
        "wire": Obj({"source": Field(Str())}),
        "role": Obj({"source": Field(Str()), "role": Field(_role), "views": Field(_views)}),
    },
)


def _load_rule(args: Mapping[str, Any], path: str) -> None:
    """`load` is either a fresh model (model, device, dtype, seed, trainable) or an alias."""
    fresh = ("model", "device", "dtype", "seed", "trainable")
    if "alias_of" in args:
        extra = sorted(set(args) - {"role", "alias_of"})
        if extra:
            raise RequestError(f"{path}: alias_of loads take only role and alias_of, got also {', '.join(extra)}")
        return
    missing = [k for k in fresh if k not in args]
    if missing:
        raise RequestError(f"{path}: missing {', '.join(missing)} (a load without alias_of builds a model)")


def _mode_needs_k(args: Mapping[str, Any], path: str) -> None:
    """`k` is required exactly where top-k distributions are involved."""
    mode = args.get("mode", args.get("estimator"))
    if mode == "topk" and args.get("k") is None:
        raise RequestError(f"{path}.k: missing (required when {'mode' if 'mode' in args else 'estimator'} is \"topk\")")


_load = Obj(
    {
        "role": Field(_role),
        "alias_of": Field(_role, required=False),
        "model": Field(_model, required=False),
        "checkpoint": Field(Nullable(Str(min_length=1)), required=False),
        "trainable": Field(Bool(), required=False),
        "optimizer": Field(Nullable(_optimizer), required=False),
        "device": Field(Str(min_length=1), required=False),
        "dtype": Field(OneOf(("float32", "bfloat16", "float16")), required=False),
        "seed": Field(Int(low=0), required=False),
        "restore_optimizer": Field(Bool(), required=False),
    },
    rules=(_load_rule,),
)

_images = TensorSpec("uint8", (3,), required=False)
_response = {
    "response_ids": TensorSpec("int64", (1,)),
    "response_mask": TensorSpec("bool", (1,), same_shape_as="response_ids"),
}

SCHEMAS: Mapping[Op, OpSchema] = {
    Op.PING: OpSchema(Obj({}), {}),
    Op.ECHO: OpSchema(None, None),
    Op.STOP: OpSchema(Obj({}), {}),
    Op.SET_THREADS: OpSchema(Obj({"threads": Field(Int(low=1))}), {}),
    Op.LOAD: OpSchema(_load, {}),
    Op.GENERATE: OpSchema(
        Obj(
            {
                "role": Field(_role),
                "views": Field(_views),
                "sampling": Field(
                    Obj(
                        {
                            "max_new_tokens": Field(Int(low=1)),
                            "temperature": Field(Num(low=0)),
                            "top_p": Field(Num(low=0, high=1, low_open=True)),
                            "seed": Field(Int(low=0)),
                        }
                    )
                ),
            }
        ),
        {"images": _images},
    ),
    Op.SCORE: OpSchema(
        Obj(
            {
                "role": Field(_role),
                "views": Field(_views),
                "temperature": Field(_temperature),
                "mode": Field(OneOf(("token", "topk", "full"))),
                "k": Field(Nullable(Int(low=1)), required=False),
            },
            rules=(_mode_needs_k,),
        ),
        {"images": _images, **_response},
    ),
    Op.SFT_STEP: OpSchema(
        Obj(
            {
                "role": Field(_role),
                "views": Field(_views),
                "targets": Field(ListOf(Str(), min_length=1)),
                "append_eos": Field(Bool()),
                "lr": Field(_lr),
                "grad_clip": Field(_grad_clip),
                "micro_batch_size": Field(Nullable(Int(low=1)), required=False),
            }
        ),
        {"images": _images},
    ),
    Op.DISTILL_STEP: OpSchema(
        Obj(
            {
                "role": Field(_role),
                "views": Field(_views),
                "estimator": Field(OneOf(("sampled", "topk", "full", "forward"))),
                "temperature": Field(_temperature),
                "lr": Field(_lr),
                "grad_clip": Field(_grad_clip),
                "micro_batch_size": Field(Nullable(Int(low=1)), required=False),
                "clip": Field(_clip),
                "teacher": Field(_teacher),
                "k": Field(Nullable(Int(low=1)), required=False),
            },
            rules=(_mode_needs_k,),
        ),
        {
            "images": _images,
            **_response,
            "old_logprobs": TensorSpec("float32", (1,), required=False, same_shape_as="response_ids"),
            "teacher_logprobs": TensorSpec("float32", (1,), required=False, same_shape_as="response_ids"),
            "teacher_topk_ids": TensorSpec("int64", (2,), required=False),
            "teacher_topk_logprobs": TensorSpec("float32", (2,), required=False, same_shape_as="teacher_topk_ids"),
            "teacher_full_logprobs": TensorSpec("float32", (2,), required=False),
        },
    ),
    Op.PG_STEP: OpSchema(
        Obj(
            {
                "role": Field(_role),
                "views": Field(_views),
                "lr": Field(_lr),
                "grad_clip": Field(_grad_clip),
                "micro_batch_size": Field(Nullable(Int(low=1)), required=False),
                "clip": Field(_clip),
            }
        ),
        {
            "images": _images,
            **_response,
            "advantages": TensorSpec("float32", (0, 1)),
            "old_logprobs": TensorSpec("float32", (1,), same_shape_as="response_ids"),
        },
    ),
    Op.SAVE: OpSchema(
        Obj({"role": Field(_role), "dir": Field(Str(min_length=1)), "include_optimizer": Field(Bool()),
             # full | dcp (sharded, resumable at any N) | hub (export); default: dcp under a process group.
             "layout": Field(OneOf(("full", "dcp", "hub")), required=False)}),
        {},
    ),
}

WIRE_TEACHER_TENSORS: Mapping[str, tuple[str, ...]] = {
    "sampled": ("teacher_logprobs",),
    "topk": ("teacher_topk_ids", "teacher_topk_logprobs"),
    "full": ("teacher_full_logprobs",),
    "forward": ("teacher_full_logprobs",),
}
"""distill_step with a wire teacher: the tensors each estimator needs."""


def describe_schemas() -> dict[str, Any]:
    """The op table as plain JSON (arg names with required flags, tensor specs): written to
    `fixtures/golden/protocol.json`, which `src/backend/protocol.test.ts` compares with the
    TypeScript declarations, so the two hand-written mirrors cannot drift apart unnoticed."""
    ops: dict[str, Any] = {}
    for op, schema in SCHEMAS.items():
        args = None if schema.args is None else {k: f.required for k, f in schema.args.fields.items()}
        tensors = None
        if schema.tensors is not None:
            tensors = {n: {"dtype": t.dtype, "ranks": list(t.ranks), "required": t.required} for n, t in schema.tensors.items()}
        ops[op.value] = {"args": args, "tensors": tensors}
    return {"version": PROTOCOL_VERSION, "ops": ops}
