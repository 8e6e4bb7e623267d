"""FSDP2 (`fully_shard`) for the `hf` model kind: one unit per decoder layer and vision block, then the root.

Applied whenever `torch.distributed` is initialised (world size 1 included, so N = 1 and N > 1
run the same code); never otherwise. The mesh is always built explicitly with
`init_device_mesh(device_type, (world,))` (pytorch#132471: a gloo group on a GPU machine must not
move CPU parameters to CUDA).

Why a root wrapper: the policy calls the inner `Qwen3VLModel` for hidden states and `lm_head` on
chunks of rows, never the `*ForConditionalGeneration.forward`. FSDP2 only unshards a unit in that
unit's own forward, so the root parameters (embeddings, tied head, norms, patch embedding,
mergers) live in `ShardedRoot`, whose forward dispatches to either call. Several root forwards
before one backward are fine: each registers its own pre/post-backward hooks and FSDP2 accumulates
the reduce-scattered gradients.

Precision (master_weights.py): parameters are stored in `plan.param_dtype` (fp32 masters by
default) and gathered in `plan.compute_dtype`; gradients are always reduced in fp32.

Gradients are SUMMED over the ranks (divide factor 1, not FSDP's default mean): each rank
back-propagates its share of the global token-mean (its token sum / the global token count), as
the worker group does for replicated models, so the reduced gradient is the global one at any N.

A frozen model (teacher) is sharded the same way, has no optimizer, and can keep its shards in
CPU memory (`CPUOffloadPolicy`), copied to the device one unit at a time for its forward.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from .master_weights import PrecisionPlan


def is_distributed() -> bool:
    """True when a process group exists (then models are sharded, even at world size 1)."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


class ShardedRoot(nn.Module):
    """The FSDP2 root around a `Qwen3VLForConditionalGeneration`: forward(head_input=…) runs the
    LM head on hidden rows; forward(**model_kwargs) runs the inner model → last hidden states."""

    def __init__(self, core: nn.Module) -> None:
        super().__init__()
        self.core = core

    def forward(self, head_input: torch.Tensor | None = None, **model_kwargs: Any):
        if head_input is not None:
            return self.core.lm_head(head_input)
        return self.core.model(**model_kwargs)


def shard_qwen3_vl(core: nn.Module, plan: PrecisionPlan, device: torch.device, *, cpu_offload: bool,
                   reshard_after_forward: bool = True) -> ShardedRoot:
    """Shards `core` in place over all ranks; returns the root to call through.

    Units: every `language_model.layers[i]`, every `visual.blocks[i]`, then the root."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, OffloadPolicy, fully_shard

    mesh = init_device_mesh(device.type, (world_size(),))
    mixed = MixedPrecisionPolicy(param_dtype=plan.compute_dtype if plan.is_mixed else None,
                                 reduce_dtype=torch.float32)
    offload = CPUOffloadPolicy(pin_memory=device.type == "cuda") if cpu_offload else OffloadPolicy()
    options = {"mesh": mesh, "mp_policy": mixed, "offload_policy": offload,
               "reshard_after_forward": reshard_after_forward}
    inner = core.model
    units = _units(inner)
    for layer in units:
        fully_shard(layer, **options)
    root = ShardedRoot(core)
    fully_shard(root, **options)
    for module in [*units, root]:
        # A plain SUM: a custom factor alone would use PREMUL_SUM, which gloo lacks.
        module.set_gradient_divide_factor(1.0)
        module.set_force_sum_reduction_for_comms(True)
    # FSDP2 initialises lazily at the first forward and requires it to be the root's; sampling
    # enters through `core`'s forward (a child unit first), so run one head row through the root now.
    with torch.no_grad():
        root(head_input=torch.zeros(1, core.config.text_config.hidden_size, dtype=plan.param_dtype, device=device))
    return root


def _units(inner: nn.Module) -> list[nn.Module]:
    units = list(inner.language_model.layers)
    visual = getattr(inner, "visual", None)
    if visual is not None:
        units += list(visual.blocks)
    if not units:
        raise ValueError("Qwen3-VL model has no decoder layers or vision blocks to shard")
    return units


@contextlib.contextmanager
def gathered_root(root: ShardedRoot | None):
    """Keeps the root's parameters unsharded while code calls the core directly (e.g. `generate`,
    which runs `core.forward`, not the root's): layer units still gather themselves."""
    if root is None:
        yield
        return
    root.unshard()
    try:
        yield
    finally:
        root.reshard()


def full_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """The module's full (unsharded) state dict on CPU on rank 0; `{}` on the other ranks.

    A collective: every rank must call it."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(module, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
