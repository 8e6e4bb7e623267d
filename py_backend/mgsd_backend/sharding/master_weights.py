"""Master-weight policy: which dtype the trained parameters are stored in, and which one computes.

Why: AdamW at lr 1e-6 on bf16 parameters updated in place rounds most updates away (an update
below half a bf16 ulp of the weight is lost; measured on a tiny random Qwen3-VL: 5 distill steps
moved 2.2 % of the weights in bf16, 90 % in fp32). So by default (`fp32`) a trainable model asked
to compute in bf16/fp16 keeps its parameters (and so the optimizer's update) in float32 and only
computes in the low-precision dtype:
- under FSDP2 (`torch.distributed` initialised, any world size) through
  `MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32)`: FSDP casts the gathered parameters
  to bf16 for forward/backward and reduces gradients in fp32 into the fp32 shards;
- on a single process without a process group, through `torch.autocast(dtype=bf16)` over fp32
  parameters. This needs no process group (a one-rank FSDP mesh would) and gives the same
  bf16 matmuls; autocast keeps norms and softmax in fp32, which is at least as accurate as FSDP's
  all-bf16 parameter copies.

`bf16` keeps the parameters themselves in the compute dtype and updates them in place: what the
official EasyR1 launch of MGSD does; use it for exact parity with that launch, not for quality.

Frozen models (the teacher) have no updates, so they are always stored in the compute dtype.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

import torch

MasterWeights = Literal["fp32", "bf16"]
MASTER_CHOICES: tuple[str, ...] = ("fp32", "bf16")
LOW_PRECISION = (torch.bfloat16, torch.float16)


@dataclass(frozen=True)
class PrecisionPlan:
    """Resolved precision of one model.

    param_dtype: dtype the parameters (and optimizer update) live in.
    compute_dtype: dtype forward/backward matmuls run in.
    masters: the requested policy (kept for describe()).
    """

    param_dtype: torch.dtype
    compute_dtype: torch.dtype
    masters: str

    @property
    def is_mixed(self) -> bool:
        """True when parameters are stored wider than they compute (fp32 masters, bf16 compute)."""
        return self.param_dtype != self.compute_dtype

    def describe(self) -> dict[str, str]:
        return {"master_weights": self.masters, "param_dtype": _name(self.param_dtype),
                "compute_dtype": _name(self.compute_dtype)}


def plan_precision(compute_dtype: torch.dtype, masters: str, trainable: bool) -> PrecisionPlan:
    """The plan for a model computing in `compute_dtype` under master policy `masters`.

    Raises ValueError naming the bad value (the caller adds the config key)."""
    if masters not in MASTER_CHOICES:
        raise ValueError(f"master_weights {masters!r} is not one of {list(MASTER_CHOICES)}")
    if trainable and masters == "fp32" and compute_dtype in LOW_PRECISION:
        return PrecisionPlan(torch.float32, compute_dtype, masters)
    return PrecisionPlan(compute_dtype, compute_dtype, masters)


def autocast_context(plan: PrecisionPlan, device: torch.device, *, sharded: bool):
    """The compute context of an unsharded mixed plan (autocast); a no-op otherwise.

    Under FSDP2 the MixedPrecisionPolicy does the casting, so no autocast is layered on top."""
    if not plan.is_mixed or sharded:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=plan.compute_dtype)


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
