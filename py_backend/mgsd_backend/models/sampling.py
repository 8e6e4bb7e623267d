"""Next-token selection shared by every sampler (the tiny VLM's loop and the hf decode loop).

Greedy (temperature 0) takes the argmax. Otherwise logits are divided by the temperature, nucleus
(top-p) filtering keeps the smallest prefix of the sorted distribution whose mass reaches `top_p`
(the most likely token is always kept), and the token is drawn by inversion: with the choice
distribution's running sum c (float64) and total T, the token is the first i with c_i >= u * T for
one uniform u in (0, 1]. A token of zero probability can never be drawn (c does not rise at it).

Per-row randomness (`RowUniforms`). Row b of a request takes its uniform at decoding step t from a
counter-based stream: mix64(row seed + t), the row seed coming from (request seed, global row
index) = `row_offset + b`. One number per row and step, made on the host: no generator objects, no
V-sized noise (Gumbel-max drew V numbers per row per token: 151,936 for a Qwen3-VL, one RNG call per
row on a GPU). A row's tokens depend only on the seed, its global index and its own logits, never on
which other rows share the batch, so a batch split across ranks (each passing the global index of
its first row as `row_offset`) samples what the whole batch samples, up to float noise in the logits
themselves. Nothing touches the global RNG.

The returned log-prob is the one `Generation.logprobs_BR` documents: log-softmax of the raw
(unprocessed) logits divided by the temperature (temperature 1 when greedy), before suppression
and top-p, so it equals what a teacher-forced `score` at the same temperature gives.

Dimension letters: B batch, V vocabulary.
"""

from __future__ import annotations

import torch

_MASK64 = (1 << 64) - 1
_GOLDEN64 = 0x9E3779B97F4A7C15


def _mix64(z: int) -> int:
    """The splitmix64 finaliser: a bijection of 64-bit integers that scatters neighbouring inputs."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def row_seed(seed: int, row: int) -> int:
    """A 63-bit seed for global row `row` of a request seeded `seed`, so neighbouring rows and
    neighbouring seeds get unrelated streams."""
    return _mix64((seed * _GOLDEN64 + (row + 1) * 0xD1B54A32D192ED03) & _MASK64) & ((1 << 63) - 1)


class RowUniforms:
    """Per-row seeded uniforms in (0, 1]: `next()` gives decoding step t's number for every row."""

    def __init__(self, seed: int, row_offset: int, batch: int) -> None:
        if row_offset < 0:
            raise ValueError(f"row_offset must be >= 0 (the global index of the first row), got {row_offset}")
        self._seeds = [row_seed(seed, row_offset + b) for b in range(batch)]
        self._step = 0

    @property
    def rows(self) -> int:
        return len(self._seeds)

    def next(self, device: torch.device) -> torch.Tensor:
        """[B] float64: row b's uniform at this step, (k + 1) / 2^53 for the top 53 bits k of its draw."""
        offset = (self._step + 1) * _GOLDEN64
        self._step += 1
        draws = [((_mix64((seed + offset) & _MASK64) >> 11) + 1) / 2.0 ** 53 for seed in self._seeds]
        return torch.tensor(draws, dtype=torch.float64, device=device)


def select_next(logits_BV: torch.Tensor, temperature: float, top_p: float, uniforms: RowUniforms | None,
                suppress_bias_V: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw logits → (token ids [B] int64, their log-probs [B] float32).

    `suppress_bias_V` (0, or -inf on ids that must never be chosen; `suppress_bias`) applies to the
    choice only, not to the reported log-prob. `uniforms` is required unless greedy."""
    logits_BV = logits_BV.float()
    scale = 1.0 if temperature <= 0 else temperature
    logprobs_BV = torch.log_softmax(logits_BV if scale == 1.0 else logits_BV / scale, dim=-1)
    choice_BV = logprobs_BV if suppress_bias_V is None else logprobs_BV + suppress_bias_V
    if temperature <= 0:
        token_B = choice_BV.argmax(dim=-1)
    else:
        if uniforms is None:
            raise ValueError("select_next: sampling at temperature > 0 needs RowUniforms")
        if uniforms.rows != choice_BV.shape[0]:
            raise ValueError(f"RowUniforms was made for {uniforms.rows} rows, the logits have {choice_BV.shape[0]}")
        if top_p < 1.0:
            choice_BV = nucleus_logits(choice_BV, top_p)
        token_B = inverse_cdf(torch.softmax(choice_BV, dim=-1), uniforms.next(choice_BV.device))
    return token_B, logprobs_BV.gather(-1, token_B[:, None]).squeeze(-1)


def inverse_cdf(probs_BV: torch.Tensor, uniform_B: torch.Tensor) -> torch.Tensor:
    """[B] int64: per row the first i whose running sum reaches uniform × total (uniform in (0, 1]).

    The sum runs in float64 (151,936 float32 terms would drift); the target never exceeds the total,
    and the first index that reaches a positive target is one where the sum rises: p_i > 0."""
    cdf_BV = probs_BV.double().cumsum(dim=-1)
    target_B1 = uniform_B[:, None] * cdf_BV[:, -1:]
    return torch.searchsorted(cdf_BV, target_B1).squeeze(-1)


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
