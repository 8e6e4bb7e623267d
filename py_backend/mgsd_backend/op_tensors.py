"""Tensor plumbing shared by the worker's ops: devices, response batches, masked rows ⇄ [B, R].

Ops receive CPU tensors with the batch first; models may live on CUDA. Scores are computed on the
N masked rows of a right-padded [B, R] response batch and scattered back to zero-filled [B, R, …]
tensors for the reply, moved to CPU.

Dimension letters: B batch, R response length, N masked rows.
"""

from __future__ import annotations

import torch

from .errors import RequestError
from .models.base import PolicyModel

# A `full` distribution sent over the wire is refused above this size (the bridge is measured for
# payloads ≤ a few MiB; a 151k vocabulary needs the top-k estimator or an in-process teacher).
MAX_WIRE_FULL_BYTES = 64 << 20

Tensors = dict[str, torch.Tensor]


class PayloadTooLarge(RequestError):
    """A reply would carry more tensor data than the wire is meant for."""

    code = "too_large"


def device_of(model: PolicyModel) -> torch.device:
    """The device a model computes on."""
    params = model.trainable_parameters()
    if params:
        return params[0].device
    return torch.device(model.describe()["device"])


def response_tensors(tensors: Tensors, model: PolicyModel) -> tuple[torch.Tensor, torch.Tensor]:
    """The request's (response_ids int64, response_mask bool) on the model's device."""
    device = device_of(model)
    return tensors["response_ids"].to(device).long(), tensors["response_mask"].to(device).bool()


def scatter_rows(values: torch.Tensor, mask_BR: torch.Tensor) -> torch.Tensor:
    """Rows [N, ...] back into a zero-filled [B, R, ...] tensor at the mask's True slots."""
    out = values.new_zeros((*mask_BR.shape, *values.shape[1:]))
    out[mask_BR] = values.detach()
    return out


def to_cpu(tensors: Tensors) -> Tensors:
    """Reply tensors: detached, on CPU, contiguous (the wire encoder's input)."""
    return {name: t.detach().cpu().contiguous() for name, t in tensors.items()}


def require_tokens(mask_BR: torch.Tensor, op: str) -> None:
    """A training batch must have at least one real token."""
    if not bool(mask_BR.any()):
        raise RequestError(f"{op}: the batch has no real response/target tokens (mask all false)",
                           hint="Send at least one unmasked token; an empty batch would only decay the weights.")


def check_wire_size(shape_BR: torch.Size, vocab_size: int) -> None:
    """Refuses a [B, R, V] float32 reply above MAX_WIRE_FULL_BYTES, with the way out in the hint."""
    size = int(shape_BR[0]) * int(shape_BR[1]) * vocab_size * 4
    if size > MAX_WIRE_FULL_BYTES:
        raise PayloadTooLarge(
            f"score: mode 'full' would send {size / 2**20:.0f} MiB ({list(shape_BR)} x vocabulary {vocab_size} "
            f"float32), above the {MAX_WIRE_FULL_BYTES >> 20} MiB wire limit",
            hint="Use mode 'topk' (estimator topk), or load the teacher in the student's worker and pass "
                 "teacher {source: 'role'} to distill_step.",
        )
