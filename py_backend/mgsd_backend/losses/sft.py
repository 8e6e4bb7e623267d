"""Supervised fine-tuning loss: token-mean cross-entropy on the target tokens.

loss = −Σ_t m_t log π_θ(y_t | x, y_<t) / Σ_t m_t, over every real target token of the batch (so a
long target weighs more than a short one, as in the official LLaMA-Factory SFT).

Dimension letters: N target tokens (the masked rows of a [B, R] batch).
"""

from __future__ import annotations

import torch

from .pg import token_mean


def sft_loss(logprobs_N: torch.Tensor) -> torch.Tensor:
    """Token-mean negative log-likelihood of the target tokens' log-probs [N]."""
    return token_mean(-logprobs_N)
