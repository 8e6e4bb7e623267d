"""mgsd's lean decode step (models/qwen3_vl_decode_step.py) against transformers' text-model path.

Both paths run the sampler's `decode` on the same prompts (the prefill is shared code; steps ≥ 1
differ), in float32 on CPU: left-padded batches with and without images, rows that stop early
(fed `pad` while others go on), greedy and seeded sampling. Also: which path runs where the lean
step does not apply (LoRA, hooks, other attention), and that an optimizer step between two
generates reaches the lean step (fused weights are rebuilt, never stale).
"""

from __future__ import annotations

import pytest
import torch

from mgsd_backend.models import qwen3_vl_decode_step
from mgsd_backend.models.base import SamplingParams
from mgsd_backend.models.qwen3_vl_decode_step import lean_step_blocker
from mgsd_backend.models.qwen3_vl_sampler import decode
from qwen_fixtures import load, random_images, student_view, teacher_view

torch.set_num_threads(1)

LORA = {"rank": 4, "alpha": 8, "dropout": 0.0}


@pytest.fixture(scope="module")
def sharp(tiny_dir):
    """The tiny model with its decoder's matrices redrawn at std 0.2: the stock random init gives
    near-uniform logits whose greedy path repeats one token, whatever the context."""
    policy = load(tiny_dir)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for weight in policy.core.model.language_model.parameters():
            if weight.ndim == 2:
                weight.copy_(torch.randn(weight.shape, generator=generator) * 0.2)
    return policy


class Override:
    """`policy` with some attributes replaced (other stop ids: a random model rarely emits its real
    ones, so rows stop where the test says)."""

    def __init__(self, policy, **attributes) -> None:
        self._policy = policy
        vars(self).update(attributes)

    def __getattr__(self, name: str):
        return getattr(self._policy, name)


def stop_at(policy, stop_ids: list[int]) -> Override:
    return Override(policy, stop_ids=stop_ids)


def run(policy, prompts, params: SamplingParams, lean: bool):
    """`decode` as `generate` runs it (no grad, eval mode) → (ids [B, R], log-probs [B, R], text-model calls)."""
    text_model = policy.core.model.language_model
    calls = []

    def counted(*args, **kwargs):  # not a hook: hooks on the text model turn the lean step off
        calls.append(1)
        return type(text_model).forward(text_model, *args, **kwargs)

    text_model.forward = counted
    try:
        with torch.no_grad(), policy._eval_mode():
            ids_BR, logprobs_BR = decode(policy, prompts, params, allow_lean=lean)
    finally:
        del text_model.forward
    return ids_BR, logprobs_BR, len(calls)


def batch(policy, with_image: bool):
    views = ([student_view(), student_view("A much longer instruction for this row, with more words. "),
              student_view("Mid-length instruction. ")] if with_image
             else [teacher_view("S"), teacher_view("S.H.H\n.....\n....G"), teacher_view("S.G")])
    return policy.encode_prompts(views, random_images(3, 9) if with_image else None)


def assert_same_decode(policy, prompts, params: SamplingParams) -> tuple[torch.Tensor, torch.Tensor]:
    ids_BR, logprobs_BR, lean_calls = run(policy, prompts, params, lean=True)
    ref_ids_BR, ref_logprobs_BR, stock_calls = run(policy, prompts, params, lean=False)
    steps = ref_ids_BR.shape[1]
    assert lean_calls == 1 and stock_calls == steps > 1  # the prefill only vs the prefill + every step
    assert torch.equal(ids_BR, ref_ids_BR), (ids_BR, ref_ids_BR)
    torch.testing.assert_close(logprobs_BR, ref_logprobs_BR, atol=1e-5, rtol=0)
    return ids_BR, logprobs_BR


@pytest.mark.parametrize("with_image", [True, False])
def test_lean_greedy_decode_equals_the_transformers_path_with_padding_and_early_stops(sharp, with_image,
                                                                                     monkeypatch):
    monkeypatch.setattr(qwen3_vl_decode_step, "FIRST_STEPS", 1)  # the KV buffers grow mid-decode
    prompts = batch(sharp, with_image)
    mask_BP = prompts.inputs["attention_mask"]
    assert (mask_BP.sum(1).unique().numel() == 3) and (mask_BP == 0).any()  # three lengths, left padding
    greedy = SamplingParams(max_new_tokens=14, temperature=0.0, top_p=1.0, seed=0)
    free_BR, _, _ = run(stop_at(sharp, [sharp.pad_id]), prompts, greedy, lean=False)
    # Row 0 stops early at a token row 1 never emits (row 2 may stop too, or not).
    stop_id = next(int(t) for t in free_BR[0, 2:] if t not in free_BR[1])
    ids_BR, _ = assert_same_decode(stop_at(sharp, [stop_id]), prompts, greedy)
    stopped_at = int((ids_BR[0] == stop_id).nonzero()[0])
    assert stopped_at < 12 and not (ids_BR[1] == stop_id).any() and ids_BR.shape[1] == 14
    assert (ids_BR[0, stopped_at + 1:] == sharp.pad_id).all()  # a stopped row is fed pad while the others run on


def test_lean_sampled_decode_equals_the_transformers_path(sharp):
    prompts = batch(sharp, with_image=True)
    for temperature, top_p in ((1.0, 1.0), (0.8, 0.9)):
        params = SamplingParams(max_new_tokens=16, temperature=temperature, top_p=top_p, seed=5)
        ids_BR, _ = assert_same_decode(stop_at(sharp, [sharp.pad_id]), prompts, params)
        assert ids_BR.shape == (3, 16)


def test_lean_decode_in_mixed_precision_equals_the_transformers_path(tiny_dir):
    # fp32 master weights computing in bf16 under CPU autocast: the fused weights are pre-cast.
    from mgsd_backend.models.qwen3_vl import build_hf_model
    from qwen_fixtures import spec

    policy = build_hf_model(spec(tiny_dir), device="cpu", dtype="bfloat16", seed=0, trainable=True, checkpoint=None)
    assert policy._plan.is_mixed
    prompts = batch(policy, with_image=True)
    params = SamplingParams(max_new_tokens=10, temperature=1.0, top_p=1.0, seed=2)
    with policy.compute_context(sampling=True):
        lean_BR, lean_lp_BR, lean_calls = run(policy, prompts, params, lean=True)
        stock_BR, stock_lp_BR, _ = run(policy, prompts, params, lean=False)
    assert lean_calls == 1 and torch.equal(lean_BR, stock_BR)
    torch.testing.assert_close(lean_lp_BR, stock_lp_BR, atol=1e-3, rtol=0)


def test_lora_keeps_the_transformers_path(tiny_dir):
    policy = load(tiny_dir, trainable=True, lora=LORA)
    assert "LoRA" in lean_step_blocker(policy)
    prompts = batch(policy, with_image=True)
    params = SamplingParams(max_new_tokens=6, temperature=1.0, top_p=1.0, seed=0)
    _, _, calls = run(stop_at(policy, [policy.pad_id]), prompts, params, lean=True)
    assert calls == 6  # every step went through transformers' text model


def test_unsupported_configs_name_why_the_lean_step_is_refused(tiny_dir, monkeypatch):
    policy = load(tiny_dir)
    assert lean_step_blocker(policy) is None
    assert "sharded by FSDP2" in lean_step_blocker(Override(policy, shards_parameters=True))
    text_config = policy.core.config.text_config
    monkeypatch.setattr(text_config, "_attn_implementation", "eager")
    assert "'eager'" in lean_step_blocker(policy)
    monkeypatch.undo()
    monkeypatch.setattr(text_config, "layer_types", ["full_attention", "sliding_attention"], raising=False)
    assert "sliding_attention" in lean_step_blocker(policy)
    monkeypatch.undo()
    handle = policy.core.model.language_model.layers[1].mlp.up_proj.register_forward_hook(lambda *_: None)
    assert "layer 1 up_proj has forward hooks" in lean_step_blocker(policy)
    handle.remove()
    handle = policy.core.model.language_model.register_forward_pre_hook(lambda *_: None)
    assert "text model has forward hooks" in lean_step_blocker(policy)
    handle.remove()
    policy.core.train()
    assert "training mode" in lean_step_blocker(policy)


def test_the_lean_step_uses_the_weights_of_the_latest_optimizer_step(tiny_dir, monkeypatch):
    policy = load(tiny_dir, trainable=True)
    with policy._eval_mode():
        assert lean_step_blocker(policy) is None  # full fine-tuning: no adapter
    prompts = batch(policy, with_image=True)
    greedy = SamplingParams(max_new_tokens=12, temperature=0.0, top_p=1.0, seed=0)
    before_BR, before_lp_BR = assert_same_decode(stop_at(policy, [policy.pad_id]), prompts, greedy)
    layers = policy.core.model.language_model.layers
    stale = {id(layer): qwen3_vl_decode_step.fuse_layer(layer, None) for layer in layers}

    optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=1e-2)
    policy.train(True)
    ids_BR = torch.randint(0, 200, (3, 5), generator=torch.Generator().manual_seed(0))
    hidden_BRD = policy.response_hidden(prompts, ids_BR, torch.ones_like(ids_BR, dtype=torch.bool))
    loss = torch.nn.functional.cross_entropy(policy.logits(hidden_BRD.flatten(0, 1)), ids_BR.flatten())
    loss.backward()
    optimizer.step()
    policy.train(False)

    after_BR, after_lp_BR = assert_same_decode(stop_at(policy, [policy.pad_id]), prompts, greedy)
    assert (after_lp_BR[:, 1:] - before_lp_BR[:, 1:]).abs().max() > 1e-2  # the step moved the decode steps
    # The comparison above catches stale fused weights: serving the pre-step ones makes it fail.
    monkeypatch.setattr(qwen3_vl_decode_step, "fuse_layer", lambda layer, dtype: stale[id(layer)])
    with pytest.raises(AssertionError):
        assert_same_decode(stop_at(policy, [policy.pad_id]), prompts, greedy)
