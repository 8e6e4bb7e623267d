"""KL estimators for on-policy distillation, per response token. The reverse KL
KL(π_θ(·|x_S) ‖ π_T(·|x_T)) is MGSD's objective; the forward KL is offered as an ablation.

- `sampled` (the official MGSD/EasyR1 one): only the sampled token y_t is scored.
  A_t = log π_T(y_t) − log π_old(y_t), detached; π_old is `old_logprobs` when the caller has them,
  else the current parameters themselves (log π_old = stop_grad(log π_θ): the recomputed "old"
  log-probs of the official one-update-per-batch loop, without a second forward). The loss is the
  PPO dual-clip surrogate of pg.py with A_t as the per-token advantage, token-mean. At ρ ≡ 1 its
  gradient is −mean_t A_t ∇log π_θ(y_t), whose expectation over y_t ~ π_θ is exactly ∇ of the
  per-position reverse KL (the score-function identity; tests/test_losses.py checks it).
- `full`: exact Σ_v π_θ(v) (log π_θ(v) − log π_T(v)) at every position, token-mean.
- `forward`: exact Σ_v π_T(v) (log π_T(v) − log π_θ(v)) at every position (on-policy forward KL,
  GKD's β = 0): needs the teacher's full distribution, like `full`.
- `topk`: the same reverse KL after coarsening both distributions to the teacher's top-k tokens plus one
  "rest" bucket holding every other token's mass. Coarsening never increases a KL
  (data-processing inequality), so this is a lower bound of `full`, exact when k = V, and it
  needs only K + 1 numbers per teacher row on the wire. Rest masses are floored at `REST_FLOOR`:
  1 − Σp in float32 carries ~1e-7 of rounding noise, which would otherwise make k = V blow up
  (log of a rounding residue); buckets this small change the KL by < 1e-5.

All inputs are log-probs at the same temperature (logits / T before log-softmax, both models).

Dimension letters: N tokens (masked rows), V vocabulary, K top-k.
"""

from __future__ import annotations

import math

import torch

from .pg import ClipParams, clipped_surrogate

REST_FLOOR = 1e-6


def sampled_surrogate(student_logprobs_N: torch.Tensor, teacher_logprobs_N: torch.Tensor,
                      old_logprobs_N: torch.Tensor | None, clip: ClipParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token official surrogate ℓ_t [N] and the advantage A_t = teacher − old [N] (detached)."""
    old_N = student_logprobs_N.detach() if old_logprobs_N is None else old_logprobs_N.detach()
    advantages_N = (teacher_logprobs_N.detach() - old_N).float()
    terms_N, _ = clipped_surrogate(student_logprobs_N, old_N, advantages_N, clip)
    return terms_N, advantages_N


def full_reverse_kl(student_logprobs_NV: torch.Tensor, teacher_logprobs_NV: torch.Tensor) -> torch.Tensor:
    """Exact reverse KL of each row [N]; differentiable in the student's log-probs."""
    return _kl_terms(student_logprobs_NV, teacher_logprobs_NV).sum(dim=-1)


def full_forward_kl(student_logprobs_NV: torch.Tensor, teacher_logprobs_NV: torch.Tensor) -> torch.Tensor:
    """Exact forward KL Σ_v π_T(v) (log π_T(v) − log π_θ(v)) of each row [N] (GKD's β = 0).

    Unlike the reverse KL, whose gradient on a token is weighted by the student's own probability of
    it, this pulls up every token the teacher favours, including ones the student all but excludes:
    a cross-entropy to the teacher's distribution on the student's own prefixes."""
    return _kl_terms(teacher_logprobs_NV, student_logprobs_NV).sum(dim=-1)


def topk_reverse_kl(student_logprobs_NV: torch.Tensor, teacher_ids_NK: torch.Tensor,
                    teacher_logprobs_NK: torch.Tensor) -> torch.Tensor:
    """Reverse KL over the teacher's top-k tokens + one rest bucket, per row [N]."""
    student_top_NK = student_logprobs_NV.gather(-1, teacher_ids_NK)
    student_NB = torch.cat([student_top_NK, rest_logprob(student_top_NK)], dim=-1)
    teacher_NB = torch.cat([teacher_logprobs_NK.float(), rest_logprob(teacher_logprobs_NK.float())], dim=-1)
    return _kl_terms(student_NB, teacher_NB).sum(dim=-1)


def _kl_terms(student_logprobs: torch.Tensor, teacher_logprobs: torch.Tensor) -> torch.Tensor:
    """p_s · (log p_s − log p_t) elementwise, 0 where p_s = 0 (avoids 0 · ∞ = NaN)."""
    probs = student_logprobs.exp()
    gap = student_logprobs - teacher_logprobs
    return torch.where(probs > 0, probs * gap, torch.zeros_like(gap))


def rest_logprob(top_logprobs_NK: torch.Tensor) -> torch.Tensor:
    """log(1 − Σ_k p_k) [N, 1], floored at log(REST_FLOOR)."""
    mass_log_N1 = torch.logsumexp(top_logprobs_NK, dim=-1, keepdim=True).clamp(max=math.log1p(-REST_FLOOR))
    return torch.log(-torch.expm1(mass_log_N1))
