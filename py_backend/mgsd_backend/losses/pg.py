"""PPO-clip policy-gradient surrogate with dual clip (EasyR1's `compute_policy_loss`, default mode).

Per token t with advantage A_t:
    ρ_t = exp(clamp(log π_θ(y_t) − log π_old(y_t), −20, 20))
    ℓ_t = max(−A_t ρ_t, −A_t · clip(ρ_t, 1 − low, 1 + high))
    ℓ_t = min(ℓ_t, −dual · A_t)            where A_t < 0 (dual clip)
    loss = Σ_t ℓ_t / N                     (token mean over the batch's real tokens)

The same surrogate serves the GRPO baseline (A from group-normalised task rewards, computed in
TypeScript) and the `sampled` distillation estimator (A = teacher − old log-prob, losses/kl.py).
At ρ ≡ 1 (one update per batch) clipping never binds and ∇loss = −mean(A_t ∇log π_θ(y_t)).

Dimension letters: N tokens (the masked rows of a [B, R] batch).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

LOG_RATIO_LIMIT = 20.0


@dataclass(frozen=True)
class ClipParams:
    """PPO clip range [1 − low, 1 + high] and the dual-clip factor (official: 0.2, 0.3, 3.0)."""

    low: float
    high: float
    dual: float

    @classmethod
    def from_args(cls, clip: dict) -> ClipParams:
        return cls(low=float(clip["low"]), high=float(clip["high"]), dual=float(clip["dual"]))


def clipped_surrogate(logprobs_N: torch.Tensor, old_logprobs_N: torch.Tensor, advantages_N: torch.Tensor,
                      clip: ClipParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token surrogate ℓ_t [N] (differentiable in `logprobs_N`) and where a clip bound [N] bool."""
    advantages_N = advantages_N.detach()
    log_ratio_N = (logprobs_N - old_logprobs_N.detach()).clamp(-LOG_RATIO_LIMIT, LOG_RATIO_LIMIT)
    ratio_N = log_ratio_N.exp()
    unclipped_N = -advantages_N * ratio_N
    clipped_N = -advantages_N * ratio_N.clamp(1.0 - clip.low, 1.0 + clip.high)
    terms_N = torch.maximum(unclipped_N, clipped_N)
    dual_N = -clip.dual * advantages_N
    is_negative_N = advantages_N < 0
    terms_N = torch.where(is_negative_N, torch.minimum(terms_N, dual_N), terms_N)
    bound_N = (clipped_N > unclipped_N) | (is_negative_N & (dual_N < torch.maximum(unclipped_N, clipped_N)))
    return terms_N, bound_N


def pg_loss(logprobs_N: torch.Tensor, old_logprobs_N: torch.Tensor, advantages_N: torch.Tensor,
            clip: ClipParams) -> tuple[torch.Tensor, torch.Tensor]:
    """(token-mean surrogate loss, fraction of tokens where a clip bound)."""
    terms_N, bound_N = clipped_surrogate(logprobs_N, old_logprobs_N, advantages_N, clip)
    return token_mean(terms_N), token_mean(bound_N.float())


def token_mean(terms_N: torch.Tensor) -> torch.Tensor:
    """Mean over tokens; an empty batch gives 0 (still attached to the graph)."""
    return terms_N.sum() / max(1, terms_N.numel())
