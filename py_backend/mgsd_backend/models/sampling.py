"""Next-token selection shared by every sampler (the tiny VLM's loop and the hf decode loop).

Greedy (temperature 0) takes the argmax. Otherwise logits are divided by the temperature, nucleus
(top-p) filtering keeps the smallest prefix of the sorted distribution whose mass reaches `top_p`
(the most likely token is always kept), and the token is drawn by the Gumbel-max trick:
argmax(log p + g) with g = -log(E), E ~ Exp(1), is an exact sample from p.

Per-row randomness (`RowNoise`). Row b of a request draws its noise from its own generator seeded
from (request seed, global row index) — `row_offset + b` — and consumes exactly V draws per decoding
step. A row's tokens therefore depend only on the seed, its global index and its own logits, never
on which other rows share the batch, so a batch split across ranks (each passing the global index
of its first row as `row_offset`) samples what the whole batch samples, up to float noise in the
logits themselves. Nothing touches the global RNG.

The returned log-prob is the one `Generation.logprobs_BR` documents: log-softmax of the raw
(unprocessed) logits divided by the temperature (temperature 1 when greedy), before suppression
and top-p, so it equals what a teacher-forced `score` at the same temperature gives.

Dimension letters: B batch, V vocabulary.
"""

from __future__ import annotations

import torch

_MASK64 = (1 << 64) - 1


def row_seed(seed: int, row: int) -> int:
    """A 63-bit seed for global row `row` of a request seeded `seed` (splitmix64 finaliser over both),
    so neighbouring rows and neighbouring seeds get unrelated streams."""
    z = (seed * 0x9E3779B97F4A7C15 + (row + 1) * 0xD1B54A32D192ED03) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) & ((1 << 63) - 1)


class RowNoise:
    """Per-row seeded Gumbel noise: one generator per row, created lazily on the logits' device."""

    def __init__(self, seed: int, row_offset: int, batch: int) -> None:
        if row_offset < 0:
            raise ValueError(f"row_offset must be >= 0 (the global index of the first row), got {row_offset}")
        self._seeds = [row_seed(seed, row_offset + b) for b in range(batch)]
        self._generators: list[torch.Generator] | None = None

    def gumbel(self, like_BV: torch.Tensor) -> torch.Tensor:
        """Gumbel(0, 1) noise shaped like `like_BV` (float32), V draws from each row's stream."""
        if self._generators is None:
            self._generators = []
            for seed in self._seeds:
                generator = torch.Generator(device=like_BV.device)
                generator.manual_seed(seed)
                self._generators.append(generator)
        if len(self._generators) != like_BV.shape[0]:
            raise ValueError(f"RowNoise was made for {len(self._generators)} rows, the logits have {like_BV.shape[0]}")
        noise_BV = torch.empty(like_BV.shape, dtype=torch.float32, device=like_BV.device)
        for b, generator in enumerate(self._generators):
            noise_BV[b].exponential_(generator=generator)
        return noise_BV.log_().neg_()


def select_next(logits_BV: torch.Tensor, temperature: float, top_p: float, noise: RowNoise | None,
                suppress_bias_V: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Raw logits → (token ids [B] int64, their log-probs [B] float32, choice scores [B, V]).

    The token is the argmax of the choice scores. `suppress_bias_V` (0, or -inf on ids that must never
    be chosen; `suppress_bias`) applies to the choice only, not to the reported log-prob. `noise`
    is required unless greedy."""
    logits_BV = logits_BV.float()
    scale = 1.0 if temperature <= 0 else temperature
    logprobs_BV = torch.log_softmax(logits_BV if scale == 1.0 else logits_BV / scale, dim=-1)
    choice_BV = logprobs_BV if suppress_bias_V is None else logprobs_BV + suppress_bias_V
    if temperature > 0:
        if noise is None:
            raise ValueError("select_next: sampling at temperature > 0 needs a RowNoise")
        if top_p < 1.0:
            choice_BV = nucleus_logits(choice_BV, top_p)
        choice_BV = noise.gumbel(choice_BV).add_(choice_BV)
    token_B = choice_BV.argmax(dim=-1)
    return token_B, logprobs_BV.gather(-1, token_B[:, None]).squeeze(-1), choice_BV


def suppress_bias(ids: list[int], vocab: int, device: torch.device) -> torch.Tensor | None:
    """A [V] float32 bias: -inf on `ids`, 0 elsewhere (None when there is nothing to suppress)."""
    if not ids:
        return None
    bias_V = torch.zeros(vocab, dtype=torch.float32, device=device)
    bias_V[ids] = float("-inf")
    return bias_V


def nucleus_logits(logits_BV: torch.Tensor, top_p: float) -> torch.Tensor:
    """Sets the tail outside the top-p nucleus to -inf (the distribution is softmax(logits_BV))."""
    probs_BV = torch.softmax(logits_BV, dim=-1)
    sorted_BV, order_BV = probs_BV.sort(dim=-1, descending=True)
    outside_BV = (sorted_BV.cumsum(dim=-1) - sorted_BV) >= top_p
    return logits_BV.masked_fill(torch.zeros_like(outside_BV).scatter(-1, order_BV, outside_BV), float("-inf"))
