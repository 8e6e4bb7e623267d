"""Checking one request against its op's schema (`protocol.SCHEMAS`) before any handler sees it.

Violations become `RequestError` (code `bad_request`) whose message starts with `op <name>:` and
names the argument or tensor, what was received and what was expected. Beyond each argument and
tensor on its own, a request must be consistent: tensor rows equal the number of views, image
parts have an `images` tensor, and a wire teacher brings the tensors its estimator needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .errors import RequestError
from .protocol import DTYPE_NAMES, SCHEMAS, WIRE_TEACHER_TENSORS, Op, TensorSpec


def validate_request(op: str, args: Any, tensors: Mapping[str, torch.Tensor]) -> Op:
    """Checks one request against its op's schema; returns the op. Raises RequestError whose
    message starts with `op <name>:` and names the argument or tensor at fault."""
    try:
        known = Op(op)
    except ValueError:
        raise RequestError(
            f"unknown op {op!r} (known ops: {', '.join(Op)})",
            "Update the TypeScript side and the worker together; both declare the same ops.",
        ) from None
    schema = SCHEMAS[known]
    try:
        if schema.args is not None:
            schema.args.check(args, "args")
        elif not isinstance(args, Mapping):
            raise RequestError(f"args: expected an object, got {type(args).__name__}")
        if schema.tensors is not None:
            _check_tensors(schema.tensors, tensors)
        _check_batch(known, args, tensors)
    except RequestError as error:
        error.message = f"op {known}: {error.message}"
        error.args = (error.message,)
        raise
    return known


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
    images = tensors.get("images")
    if images is not None and images.shape[-1] != 3:
        raise RequestError(f"tensor images: expected [H, W, 3] RGB per row, got {list(images.shape[1:])}")


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
