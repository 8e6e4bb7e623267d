"""AdamW construction and one guarded optimizer update for a trainable role.

- Weight decay applies to matrices only (parameters with ≥ 2 dims: linear, conv and embedding
  weights); biases, norms and 1-D embeddings are not decayed. Each param group carries a `decay`
  flag so a restored optimizer can have the requested hyperparameters re-applied.
- The fused AdamW kernel (one kernel over all parameters; 4-5x faster than `foreach` on CPU with
  torch 2.15) is used whenever every parameter is a floating-point tensor on a device torch has
  fused kernels for; otherwise the `foreach` path. The choice is logged, never silent.
- TypeScript owns the schedule: every step request carries `lr`, which is written into every
  param group before stepping.
- A NaN/inf loss or gradient norm raises `NonFiniteLoss` before `optimizer.step()`: the weights
  and the optimizer state stay exactly as they were, and the gradients are cleared.
- In a rank group (group/), `loss` is this rank's share of the global token-mean (None when the
  rank has no rows), and `reduce_grads` sums the gradients over the ranks after backward, so the
  clip sees the global gradient norm and every replica takes the same step.
"""

from __future__ import annotations

import logging

import torch

from collections.abc import Callable

from .errors import NonFiniteLoss, RequestError

log = logging.getLogger("mgsd_backend.optim")


def build_adamw(params: list[torch.nn.Parameter], betas: tuple[float, float], weight_decay: float,
                eps: float) -> torch.optim.AdamW:
    """AdamW over `params`, decay on matrices only; lr is set per step."""
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": weight_decay, "decay": True},
              {"params": no_decay, "weight_decay": 0.0, "decay": False}]
    fused, why = fused_supported(params)
    log.info("AdamW: %s path (%s)", "fused" if fused else "foreach", why)
    return torch.optim.AdamW(groups, lr=0.0, betas=betas, eps=eps, fused=fused or None)


def fused_supported(params: list[torch.nn.Parameter]) -> tuple[bool, str]:
    """Whether torch's fused AdamW kernel can step `params`, and why (for the log line)."""
    from torch.optim.optimizer import _get_fused_kernels_supported_devices

    devices = set(_get_fused_kernels_supported_devices())
    for p in params:
        if p.device.type not in devices:
            return False, f"no fused kernel on device {p.device.type}"
        if not torch.is_floating_point(p):
            return False, f"parameter dtype {p.dtype} is not floating point"
    return True, f"devices {sorted({p.device.type for p in params}) or ['none']}"


def set_hyperparameters(optimizer: torch.optim.Optimizer, betas: tuple[float, float], weight_decay: float,
                        eps: float) -> None:
    """Re-applies requested hyperparameters (after a restore, which brings back the saved ones)."""
    fused = bool(optimizer.defaults.get("fused"))
    for group in optimizer.param_groups:
        # A restored group brings back the saved `fused` flag; the path is this process's choice.
        group["fused"] = fused or None
        group["betas"] = tuple(betas)
        group["eps"] = eps
        group["weight_decay"] = weight_decay if group.get("decay", True) else 0.0


def apply_update(params: list[torch.nn.Parameter], optimizer: torch.optim.Optimizer, loss: torch.Tensor | None,
                 lr: float, grad_clip: float, where: str,
                 reduce_grads: Callable[[list[torch.nn.Parameter]], None] | None = None) -> float:
    """backward → (reduce over ranks) → clip the grad norm to `grad_clip` → step at `lr`. Returns
    the pre-clip grad norm. `where` (op and role) goes into the NonFiniteLoss message."""
    optimizer.zero_grad(set_to_none=True)
    if loss is not None and not bool(torch.isfinite(loss.detach())):
        raise NonFiniteLoss(f"{where}: the loss is {float(loss.detach()):g}; no update was made (weights unchanged)",
                            hint="Lower the learning rate, or check the inputs (empty targets, inf log-probs).")
    if loss is not None and not loss.requires_grad:
        raise RequestError(f"{where}: the loss does not depend on any trainable parameter",
                           hint="The batch may have no response tokens; send at least one real token.")
    if loss is not None:
        loss.backward()
    if reduce_grads is not None:
        reduce_grads(params)
    return finish_update(params, optimizer, lr, grad_clip, where)


def finish_update(params: list[torch.nn.Parameter], optimizer: torch.optim.Optimizer, lr: float, grad_clip: float,
                  where: str) -> float:
    """clip the accumulated gradients to `grad_clip` → step at `lr` → clear them. Returns the
    pre-clip grad norm; NonFiniteLoss (weights unchanged) when it is not finite."""
    grad_norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
    if not bool(torch.isfinite(grad_norm)):
        optimizer.zero_grad(set_to_none=True)
        raise NonFiniteLoss(f"{where}: the gradient norm is {float(grad_norm):g}; no update was made "
                            "(weights unchanged)", hint="Lower the learning rate or the gradient clip.")
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(grad_norm)


def all_reduce_gradients(params: list[torch.nn.Parameter], all_reduce_sum_: Callable[[torch.Tensor], object]) -> None:
    """Sums every parameter's gradient over the ranks (replicated weights, DDP semantics) in one
    flat all-reduce; a rank without a gradient (no rows) contributes zeros. `all_reduce_sum_`
    sums a tensor in place over the group (group.Group.all_reduce_sum_)."""
    if not params:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
    all_reduce_sum_(flat)
    offset = 0
    for p in params:
        size = p.numel()
        p.grad = flat[offset:offset + size].view_as(p).clone()
        offset += size
