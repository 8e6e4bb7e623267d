"""Next-token selection shared by models that run their own decoding loop (the tiny VLM).

Greedy (temperature 0) takes the argmax; otherwise logits are divided by the temperature, nucleus
(top-p) filtering keeps the smallest prefix of the sorted distribution whose mass reaches `top_p`
(the most likely token is always kept), and the token is drawn with the caller's seeded
`torch.Generator`, so the same seed gives the same tokens (bitwise on CPU).

The returned log-prob is the one `Generation.logprobs_BR` documents: log-softmax of the raw
logits divided by the temperature (temperature 1 when greedy), before top-p filtering, so it
equals what a teacher-forced `score` at the same temperature gives.

Dimension letters: B batch, V vocabulary.
"""

from __future__ import annotations

import torch


def select_next(logits_BV: torch.Tensor, temperature: float, top_p: float,
                generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 logits → (token ids [B] int64, their log-probs [B] float32)."""
    logits_BV = logits_BV.float()
    if temperature == 0:
        token_B = logits_BV.argmax(dim=-1)
        logprobs_BV = torch.log_softmax(logits_BV, dim=-1)
    else:
        logprobs_BV = torch.log_softmax(logits_BV / temperature, dim=-1)
        probs_BV = nucleus(logprobs_BV.exp(), top_p)
        token_B = torch.multinomial(probs_BV, 1, generator=generator).squeeze(-1)
    return token_B, logprobs_BV.gather(-1, token_B[:, None]).squeeze(-1)


def nucleus(probs_BV: torch.Tensor, top_p: float) -> torch.Tensor:
    """Zeroes the tail outside the top-p nucleus (unnormalised; multinomial rescales)."""
    if top_p >= 1.0:
        return probs_BV
    sorted_BV, order_BV = probs_BV.sort(dim=-1, descending=True)
    mass_before_BV = sorted_BV.cumsum(dim=-1) - sorted_BV
    sorted_BV = sorted_BV.masked_fill(mass_before_BV >= top_p, 0.0)
    return torch.zeros_like(probs_BV).scatter(-1, order_BV, sorted_BV)


def make_generator(seed: int, device: torch.device) -> torch.Generator:
    """A generator on the model's device, seeded (sampling never touches the global RNG)."""
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator
