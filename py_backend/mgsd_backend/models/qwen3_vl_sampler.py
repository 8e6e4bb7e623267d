"""The `hf` sampler: mgsd's own KV-cache decoding loop for a Qwen3-VL, with mgsd's token selection
(sampling.py), so randomness is per row and log-probs come from the same pass.

How. One prefill forward over the prompt (with the image) fills a `DynamicCache` (its last layer
computes only the last column's output, qwen3_vl_tail.py); then one forward per token. Positions
are computed once per encoding (`prefill_positions`, called by `encode_prompts`): the prefill's
[4, B, P] layout (row 0 the text position the causal mask reads, rows 1-3 M-RoPE from
`get_rope_index`, exactly as transformers' `generate` lays them out) and every decode step at
last + 1 + step on all four axes, so the model never consults or sets its cached `rope_deltas`.
Each step `select_next` picks the token from the float32 raw logits of the last column
(suppression of Qwen's vision placeholders, temperature, top-p, an inverse-CDF draw with one
uniform per row seeded from (seed, global row)) and returns its log-prob under the documented
semantics (log-softmax of the raw logits / temperature, before suppression and top-p): no second,
teacher-forced pass. Rows past a stop id are fed `pad`, as transformers does; the loop ends when
every row has stopped (under FSDP2, every row of every rank: `any_row_running`). Greedy ids equal
transformers' greedy `generate` (tested).

Steps after the prefill run mgsd's lean decode step (qwen3_vl_decode_step.py: fused q/k/v and
gate/up GEMMs, its own KV buffers written in place, no per-step mask building) wherever it applies exactly;
elsewhere (FSDP2 shards, LoRA, ...: `lean_step_blocker`, logged once per reason) transformers'
text model and the head, called directly.

Why not `generate`: on small models its per-token Python (logits processors, stopping criteria,
`prepare_inputs_for_generation`, cache bookkeeping) costs as much as the forward itself.
It runs under the policy's `compute_context(sampling=True)`, which gathers an FSDP root, because it
calls `core` (not the root) directly.

Why suppress vision placeholders: fed back in, an `<|image_pad|>` would be read as image input
(real checkpoints give them ~0 mass; random test models do not).

Dimension letters: B batch, P prompt length, R response length, V vocabulary.
"""

from __future__ import annotations

import inspect
import os

import torch
import torch.distributed as dist

from .base import EncodedPrompts, Generation, SamplingParams
from .qwen3_vl_decode_step import LeanDecodeStep, lean_step_blocker, log_decode_path
from .qwen3_vl_tail import last_layer_only_at
from .sampling import RowUniforms, select_next, suppress_bias

# Decode paths already logged in this process (each reason once, not once per generate).
_LOGGED_PATHS: set[str] = set()


def hf_generate(policy, prompts: EncodedPrompts, params: SamplingParams) -> Generation:
    """`Qwen3VLPolicy.generate`'s body (the policy supplies model, tokenizer and inputs)."""
    response_BR, logprobs_BR = decode(policy, prompts, params)
    mask_BR = response_mask(response_BR, policy.stop_ids)
    response_BR = response_BR.masked_fill(~mask_BR, policy.pad_id)
    check_sampled_ids(response_BR, mask_BR, len(policy.tokenizer), policy.source)
    logprobs_BR = logprobs_BR.masked_fill(~mask_BR, 0.0)
    texts, char_end_BR = texts_and_char_ends(policy.tokenizer, response_BR, mask_BR)
    return Generation(response_BR.cpu(), mask_BR.cpu(), logprobs_BR.float().cpu(), char_end_BR, texts)


def decode(policy, prompts: EncodedPrompts, params: SamplingParams,
           allow_lean: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The KV-cache loop → (response ids [B, R] int64, their log-probs [B, R] float32), R ≤ max_new_tokens.

    Rows that have emitted a stop id are fed `pad` from then on (masked later by `response_mask`);
    every row still takes its uniform each step, so a row's stream never depends on the others. The
    loop ends when every row has stopped or after `max_new_tokens` steps. Steps after the prefill
    run mgsd's lean decode step (qwen3_vl_decode_step.py) unless it does not apply to this model
    (logged once per reason) or `allow_lean` is False (tests compare the two paths)."""
    from transformers import DynamicCache

    core = policy.core
    prompt_BP, prompt_mask_BP = prompts.inputs["input_ids"], prompts.inputs["attention_mask"]
    batch, width_P, steps = prompt_BP.shape[0], prompt_BP.shape[1], params.max_new_tokens
    device = prompt_BP.device
    empty = torch.zeros((batch, 0), dtype=torch.long, device=device)
    if steps <= 0:
        return empty, empty.float()
    mask_BT = torch.cat([prompt_mask_BP, prompt_mask_BP.new_ones(batch, steps)], 1)
    positions_4BP = prompts.inputs["positions_4BP"]  # prefill_positions, computed once by encode_prompts
    next_4B1 = positions_4BP[..., -1:] + 1  # decode step t sits at next + t on all four axes
    stop_ids = torch.tensor(policy.stop_ids, device=device)
    uniforms = RowUniforms(params.seed, params.row_offset, batch) if params.temperature > 0 else None
    bias_V: torch.Tensor | None = None
    cache = DynamicCache(config=core.config)
    kwargs = policy.model_inputs(prompts, prompt_BP, prompt_mask_BP)
    kwargs.pop("mm_token_type_ids", None)  # only used to derive positions, which we pass
    kwargs.update(position_ids=positions_4BP)
    tokens: list[torch.Tensor] = []
    logprobs: list[torch.Tensor] = []
    running_B = torch.ones(batch, dtype=torch.bool, device=device)
    text_model, head = core.model.language_model, core.lm_head
    blocker = lean_step_blocker(policy) if allow_lean else "the caller asked for transformers' path"
    log_decode_path(blocker, _LOGGED_PATHS)
    lean: LeanDecodeStep | None = None
    for step in range(steps):
        if step == 0:  # the prefill: the full model, which merges the image features in; only the
            # last column's output is read, so the last layer computes just that (qwen3_vl_tail.py)
            with last_layer_only_at(core, width_P - 1, width_P, prompt_mask_BP):
                logits_BV = core(**kwargs, past_key_values=cache, use_cache=True, logits_to_keep=1).logits[:, -1]
        elif blocker is None:  # a text token through mgsd's own step, same inputs as below
            if lean is None:  # it takes the prefill's keys and values over
                lean, cache = LeanDecodeStep(core, cache, mask_BT), None
            logits_BV = lean(kwargs["input_ids"], kwargs["position_ids"][1:])
        else:  # a text token: straight to the language model and the head (skips two wrappers' Python)
            hidden_B1D = text_model(**kwargs, past_key_values=cache, use_cache=True).last_hidden_state
            logits_BV = head(hidden_B1D[:, -1])
        logits_BV = logits_BV.float()
        if bias_V is None:
            bias_V = suppress_bias(policy.vision_ids, logits_BV.shape[-1], logits_BV.device)
        token_B, logprob_B = select_next(logits_BV, params.temperature, params.top_p, uniforms, bias_V)
        token_B = token_B.masked_fill(~running_B, policy.pad_id)
        tokens.append(token_B)
        logprobs.append(logprob_B)
        running_B &= ~torch.isin(token_B, stop_ids)
        if step + 1 == steps or not any_row_running(running_B, policy.shards_parameters):
            break
        kwargs = {"input_ids": token_B[:, None], "attention_mask": mask_BT[:, : width_P + step + 1],
                  "position_ids": next_4B1 + step}
    return torch.stack(tokens, 1), torch.stack(logprobs, 1)


def any_row_running(running_B: torch.Tensor, sharded: bool) -> bool:
    """Whether the loop goes on. With sharded weights the answer is the whole group's: FSDP2 gathers
    each layer's weights inside every forward, so every rank must decode the same number of steps
    (a rank whose rows have all stopped feeds `pad` until every rank's have; a rank leaving early
    would pair its next collective with another rank's all-gather)."""
    running = running_B.any()
    if not sharded or not dist.is_initialized():
        return bool(running)
    flag = running.to(device="cpu", dtype=torch.int32).reshape(1)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def prefill_positions(policy, prompts: EncodedPrompts) -> torch.Tensor:
    """[4, B, P] positions of the prompt, as transformers' generation lays them out: row 0 the text
    position (cumsum of the mask, which the causal mask reads), rows 1-3 the M-RoPE axes (from
    `get_rope_index` with an image, the text position without). Decode steps continue each row +1."""
    prompt_BP, mask_BP = prompts.inputs["input_ids"], prompts.inputs["attention_mask"]
    text_BP = (mask_BP.long().cumsum(-1) - 1).masked_fill(mask_BP == 0, 0)
    if prompts.has_images:
        rope_index = policy.core.model.get_rope_index
        extra = ({"mm_token_type_ids": prompts.inputs["mm_token_type_ids"]}
                 if "mm_token_type_ids" in inspect.signature(rope_index).parameters else {})
        mrope_3BP, _ = rope_index(prompt_BP, image_grid_thw=prompts.inputs["image_grid_thw"], video_grid_thw=None,
                                  attention_mask=mask_BP, **extra)
    else:
        mrope_3BP = text_BP.unsqueeze(0).expand(3, -1, -1)
    return torch.cat([text_BP.unsqueeze(0), mrope_3BP.to(text_BP.device)], 0)


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
