"""Checking one request against its op's contract (`protocol.SCHEMAS`) before any handler sees it.

Arguments are checked with `jsonschema` against the generated JSON Schema (`schema_errors`
words the errors); tensors against the contract's tensor specs. Violations become `RequestError`
(code `bad_request`) whose message starts with `op <name>:` and names the argument or tensor,
what was received and what was expected. Beyond each argument and tensor on its own, a request
must be consistent: tensor rows equal the number of views, image parts have an `images` tensor,
and a wire teacher brings the tensors its estimator needs (`WIRE_TEACHER_TENSORS`).
`check_result` holds a worker's own replies to the result schemas (used by the tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .errors import RequestError
from .protocol import DTYPE_NAMES, SCHEMAS, WIRE_TEACHER_TENSORS, Op, OpSchema, TensorSpec
from .schema_errors import first_error, validator

_ARGS = {op: validator(schema.args) for op, schema in SCHEMAS.items()}
_RESULTS = {op: validator(schema.result) for op, schema in SCHEMAS.items()}


def validate_request(op: str, args: Any, tensors: Mapping[str, torch.Tensor]) -> Op:
    """Checks one request against its op's contract; returns the op. Raises RequestError whose
    message starts with `op <name>:` and names the argument or tensor at fault."""
    known = _known_op(op)
    schema = SCHEMAS[known]
    try:
        error = first_error(_ARGS[known], args, "args")
        if error is not None:
            raise error
        if schema.tensors is not None:
            _check_tensors(schema.tensors, tensors)
        _check_batch(known, args, tensors)
    except RequestError as error:
        error.message = f"op {known}: {error.message}"
        error.args = (error.message,)
        raise
    return known


def check_result(op: str, result: Any, tensors: Mapping[str, torch.Tensor]) -> None:
    """Raises RequestError (`op <name>: result…`) unless a reply matches the op's result schema
    and reply tensors: what the TypeScript client will parse it with."""
    known = _known_op(op)
    schema: OpSchema = SCHEMAS[known]
    error = first_error(_RESULTS[known], result, "result")
    if error is None and schema.reply_tensors is not None:
        try:
            _check_tensors(schema.reply_tensors, tensors)
        except RequestError as tensor_error:
            error = tensor_error
    if error is not None:
        raise RequestError(f"op {known}: {error.message}", "Update src/backend/protocol.ts and run `npm run gen:contract`.")


def _known_op(op: str) -> Op:
    try:
        return Op(op)
    except ValueError:
        raise RequestError(
            f"unknown op {op!r} (known ops: {', '.join(Op)})",
            "Update the TypeScript side and the worker together; both read the same contract.",
        ) from None


def _check_tensors(specs: Mapping[str, TensorSpec], tensors: Mapping[str, torch.Tensor]) -> None:
    unknown = sorted(set(tensors) - set(specs))
    if unknown:
        known = ", ".join(specs) or "none"
        raise RequestError(f"unexpected tensor(s) {', '.join(unknown)} (this op takes: {known})")
    for name, spec in specs.items():
        tensor = tensors.get(name)
        if tensor is None:
            if spec.required:
                raise RequestError(f"tensor {name}: missing (expected {spec.dtype} with per-row rank {_ranks(spec)})")
            continue
        dtype = DTYPE_NAMES.get(tensor.dtype, str(tensor.dtype))
        if dtype != spec.dtype:
            raise RequestError(f"tensor {name}: expected dtype {spec.dtype}, got {dtype}")
        if tensor.dim() - 1 not in spec.ranks:
            raise RequestError(
                f"tensor {name}: expected per-row rank {_ranks(spec)}, got shape {list(tensor.shape[1:])} per row"
            )
        other = tensors.get(spec.same_shape_as) if spec.same_shape_as else None
        if other is not None and other.shape != tensor.shape:
            raise RequestError(
                f"tensor {name}: shape {list(tensor.shape)} differs from {spec.same_shape_as}'s {list(other.shape)}"
            )
        if spec.last_dim is not None and tensor.shape[-1] != spec.last_dim:
            raise RequestError(
                f"tensor {name}: expected last dimension {spec.last_dim} per row, got shape {list(tensor.shape[1:])} per row"
            )


def _check_batch(op: Op, args: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> None:
    """Rows agree with the views; image parts agree with the images tensor; a wire teacher
    brings the tensors its estimator needs."""
    views = args.get("views") if op is not Op.ECHO else None
    if views is None:
        return
    rows = {name: int(t.shape[0]) for name, t in tensors.items()}
    for name, count in rows.items():
        if count != len(views):
            raise RequestError(f"tensor {name}: {count} row(s) but {len(views)} view(s); rows are samples")
    with_image = [i for i, view in enumerate(views) if _image_parts(view) > 0]
    too_many = [i for i, view in enumerate(views) if _image_parts(view) > 1]
    if too_many:
        raise RequestError(f"args.views[{too_many[0]}]: more than one image part (a view holds at most one)")
    if with_image and "images" not in tensors:
        raise RequestError(f"args.views[{with_image[0]}] has an image part but the request has no images tensor")
    teacher = args.get("teacher")
    if op is Op.DISTILL_STEP and teacher.get("source") == "role" and len(teacher["views"]) != len(views):
        raise RequestError(f"args.teacher.views: {len(teacher['views'])} view(s) but args.views has {len(views)}")
    if op is Op.DISTILL_STEP and teacher.get("source") == "wire":
        for name in WIRE_TEACHER_TENSORS[args["estimator"]]:
            if name not in tensors:
                raise RequestError(
                    f"tensor {name}: missing (estimator {args['estimator']!r} with a wire teacher needs it)",
                    "Score the batch with the teacher first (score op) and send its outputs.",
                )


def _image_parts(view: list[Mapping[str, Any]]) -> int:
    return sum(1 for message in view for part in message["content"] if part["type"] == "image")


def _ranks(spec: TensorSpec) -> str:
    return " or ".join(str(r) for r in spec.ranks)
