"""The `hf` sampler: KV-cache decoding of a Qwen3-VL through transformers' `generate`, with mgsd's
own token selection (sampling.py) so randomness is per row and log-probs come from the same pass.

How. `generate` runs in greedy mode with one logits processor, `RowSampler`, that receives every
step's float32 raw logits, picks the token itself (`select_next`: suppression of Qwen's vision
placeholders, temperature, top-p, per-row Gumbel noise seeded from (seed, global row)) and returns
its choice scores, whose argmax transformers' greedy step then takes: exactly that token. The
processor records the token's log-prob under the documented semantics (log-softmax of the raw
logits / temperature, before suppression and top-p): no second, teacher-forced pass is needed.
The cached logits differ from a teacher-forced forward's only by float noise (tested against
`score`).

Why suppress vision placeholders: fed back in, an `<|image_pad|>` would be read as image input
(real checkpoints give them ~0 mass; random test models do not).

Dimension letters: B batch, P prompt length, R response length, V vocabulary.
"""

from __future__ import annotations

import os

import torch

from .base import EncodedPrompts, Generation, SamplingParams
from .sampling import RowNoise, select_next, suppress_bias


class RowSampler:
    """A transformers logits processor that selects each row's next token and records its log-prob."""

    def __init__(self, params: SamplingParams, batch: int, suppress_ids: list[int]) -> None:
        self._params = params
        self._suppress_ids = suppress_ids
        self._bias_V: torch.Tensor | None = None  # made on the first call, on the logits' device
        self._noise = RowNoise(params.seed, params.row_offset, batch) if params.temperature > 0 else None
        self.logprobs: list[torch.Tensor] = []  # one [B] float32 per decoding step

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self._bias_V is None:
            self._bias_V = suppress_bias(self._suppress_ids, scores.shape[-1], scores.device)
        _, logprob_B, choice_BV = select_next(scores, self._params.temperature, self._params.top_p, self._noise,
                                              self._bias_V)
        self.logprobs.append(logprob_B)
        # transformers (greedy mode) takes the argmax of these very scores: our token.
        return choice_BV


def hf_generate(policy, prompts: EncodedPrompts, params: SamplingParams) -> Generation:
    """`Qwen3VLPolicy.generate`'s body (the policy supplies model, tokenizer and inputs)."""
    from transformers import GenerationConfig, LogitsProcessorList

    # Every knob explicit: the checkpoint's recommended top-k/top-p never leak in. Greedy in
    # transformers' terms because RowSampler already made the choice.
    config = GenerationConfig(
        max_new_tokens=params.max_new_tokens, min_new_tokens=0, do_sample=False, num_beams=1, temperature=1.0,
        top_p=1.0, top_k=None, min_p=None, typical_p=1.0, repetition_penalty=1.0, no_repeat_ngram_size=0,
        eos_token_id=policy.stop_ids, pad_token_id=policy.pad_id, bos_token_id=None,
        use_cache=True, return_dict_in_generate=True, num_return_sequences=1,
    )
    inputs = prompts.inputs
    sampler = RowSampler(params, prompts.batch_size, policy.vision_ids)
    kwargs = policy.model_inputs(prompts, inputs["input_ids"], inputs["attention_mask"])
    out = policy.core.generate(**kwargs, generation_config=config, logits_processor=LogitsProcessorList([sampler]))
    response_BR = out.sequences[:, inputs["input_ids"].shape[1]:]
    mask_BR = response_mask(response_BR, policy.stop_ids)
    response_BR = response_BR.masked_fill(~mask_BR, policy.pad_id)
    check_sampled_ids(response_BR, mask_BR, len(policy.tokenizer), policy.source)
    if sampler.logprobs:
        logprobs_BR = torch.stack(sampler.logprobs, 1)[:, :response_BR.shape[1]].masked_fill(~mask_BR, 0.0)
    else:
        logprobs_BR = torch.zeros(response_BR.shape, dtype=torch.float32, device=response_BR.device)
    texts, char_end_BR = texts_and_char_ends(policy.tokenizer, response_BR, mask_BR)
    return Generation(response_BR.cpu(), mask_BR.cpu(), logprobs_BR.float().cpu(), char_end_BR, texts)


def texts_and_char_ends(tokenizer, response_BR: torch.Tensor, mask_BR: torch.Tensor):
    """Decoded texts and, per token, the characters of the final text complete after it."""
    texts: list[str] = []
    char_end_BR = torch.zeros(response_BR.shape, dtype=torch.int32)
    for b in range(response_BR.shape[0]):
        ids = response_BR[b][mask_BR[b].to(response_BR.device)].tolist()
        text, ends = decode_with_char_ends(tokenizer, ids)
        texts.append(text)
        char_end_BR[b, : len(ends)] = torch.tensor(ends, dtype=torch.int32)
    return texts, char_end_BR


def decode_with_char_ends(tokenizer, ids: list[int]) -> tuple[str, list[int]]:
    """(text, ends): ends[j] = characters of `text` complete once token j is decoded.

    Incremental: each step decodes a short window that starts a few tokens back, so byte-level
    pieces of one character (shown as U+FFFD until complete) and tokenizers that strip a leading
    space both work, in linear time. If the pieces do not add up to the full decode (a decoder
    with global clean-up rules), it recomputes exactly from every prefix, in quadratic time."""
    def decode(part: list[int]) -> str:
        return tokenizer.decode(part, skip_special_tokens=True)

    text = decode(ids)
    pieces: list[str] = []
    ends: list[int] = []
    start = read = written = 0
    for j in range(len(ids)):
        before, after = decode(ids[start:read]), decode(ids[start:j + 1])
        if len(after) > len(before) and not after.endswith("\ufffd"):
            pieces.append(after[len(before):])
            written += len(pieces[-1])
            start, read = read, j + 1
        ends.append(written)
    if "".join(pieces) == text:
        return text, ends
    prefixes = tokenizer.batch_decode([ids[: j + 1] for j in range(len(ids))], skip_special_tokens=True)
    return text, [len(p if text.startswith(p) else os.path.commonprefix([p, text])) for p in prefixes]


def response_mask(response_BR: torch.Tensor, stop_ids: list[int]) -> torch.Tensor:
    """True up to and including the first stop token of each row (all True if none)."""
    is_stop_BR = torch.isin(response_BR, torch.tensor(stop_ids, device=response_BR.device))
    after_stop_BR = (is_stop_BR.long().cumsum(1) - is_stop_BR.long()) > 0
    return ~after_stop_BR


def check_sampled_ids(response_BR: torch.Tensor, mask_BR: torch.Tensor, tokenizer_size: int,
                      source: str) -> None:
    """A sampled id past the tokenizer (an untrained padding row of the head) means broken inference."""
    bad = (response_BR >= tokenizer_size) & mask_BR
    if bool(bad.any()):
        row, col = (int(i) for i in bad.nonzero()[0])
        raise RuntimeError(
            f"{source}: sampled token id {int(response_BR[row, col])} (sample {row}, position {col}) is past the "
            f"tokenizer's {tokenizer_size} tokens. The model put probability on untrained vocabulary rows: check the "
            f"weights, dtype and temperature."
        )
