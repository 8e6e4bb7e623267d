"""The hf model's exact fast paths: the last decoder layer computed only at the response columns
(models/qwen3_vl_tail.py) and the vision patch embedding as one linear map (qwen3_vl_patch_embed.py).

`response_hidden` runs it; these tests compare it with the stock forward (the same call with the
override off) on left-padded prompts with and without images and responses with masked tails:
the hidden rows the callers read and the gradients of every weight must agree.
"""

from __future__ import annotations

import contextlib

import pytest
import torch

from mgsd_backend.models import qwen3_vl
from mgsd_backend.models.qwen3_vl_tail import last_layer_only_at
from qwen_fixtures import load, random_images, student_view, teacher_view

torch.set_num_threads(1)


def _batch(policy, with_image: bool):
    views = ([student_view(), student_view("A much longer instruction for this row. ")] if with_image
             else [teacher_view("S"), teacher_view("S.H\n..G\n...")])
    prompts = policy.encode_prompts(views, random_images(2, 5) if with_image else None)
    generator = torch.Generator().manual_seed(1)
    ids_BR = torch.randint(0, 200, (2, 7), generator=generator)  # plain byte tokens, no vision ids
    mask_BR = torch.ones(2, 7, dtype=torch.bool)
    mask_BR[1, 4:] = False  # a response that stopped early: its tail is padding
    return prompts, ids_BR, mask_BR


def _stock(monkeypatch):
    """response_hidden with the override off: the plain full-width forward."""
    monkeypatch.setattr(qwen3_vl, "last_layer_only_at", lambda *a, **k: contextlib.nullcontext())


@pytest.mark.parametrize("with_image", [True, False])
def test_kept_columns_equal_the_stock_forward_with_gradients(tiny_dir, monkeypatch, with_image):
    policy = load(tiny_dir, trainable=True)
    prompts, ids_BR, mask_BR = _batch(policy, with_image)
    results = []
    for stock in (False, True):
        if stock:
            _stock(monkeypatch)
        policy._core.zero_grad(set_to_none=True)
        hidden_ND = policy.response_hidden(prompts, ids_BR, mask_BR)[mask_BR]
        policy.logits(hidden_ND).logsumexp(-1).sum().backward()
        grads = {n: p.grad.clone() for n, p in policy._core.named_parameters() if p.grad is not None}
        results.append((hidden_ND.detach(), grads))
    (ours, our_grads), (stock_rows, stock_grads) = results
    torch.testing.assert_close(ours, stock_rows, atol=1e-5, rtol=1e-5)
    assert our_grads.keys() == stock_grads.keys()
    for name, grad in stock_grads.items():
        torch.testing.assert_close(our_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)


def test_the_layer_is_restored_after_the_pass_even_on_error(frozen):
    layer = frozen._core.model.language_model.layers[-1]
    mask_BT = torch.ones(1, 5, dtype=torch.long)
    with pytest.raises(KeyError):
        with last_layer_only_at(frozen._core, 2, 4, mask_BT):
            assert "forward" in vars(layer)
            raise KeyError("boom")
    assert "forward" not in vars(layer)


def test_columns_outside_the_sequence_are_refused(frozen):
    with pytest.raises(ValueError, match="outside"):
        with last_layer_only_at(frozen._core, 3, 9, torch.ones(1, 5, dtype=torch.long)):
            pass


def test_a_decode_step_inside_the_context_is_refused(frozen):
    """A prefill from an empty cache may run through the override (generation does); a step that
    extends a filled cache must not."""
    from transformers import DynamicCache

    prompts = frozen.encode_prompts([teacher_view()], None)
    ids_BP, mask_BP = prompts.inputs["input_ids"], prompts.inputs["attention_mask"]
    width = ids_BP.shape[1]
    cache = DynamicCache(config=frozen._core.config)
    with torch.no_grad():
        with last_layer_only_at(frozen._core, width - 1, width, mask_BP):
            frozen._core.model(input_ids=ids_BP, attention_mask=mask_BP, past_key_values=cache, use_cache=True)
        assert cache.get_seq_length() == width  # every column's keys and values were cached
        with last_layer_only_at(frozen._core, 0, 1, mask_BP[:, :1]), pytest.raises(RuntimeError, match="empty cache"):
            frozen._core.model(input_ids=ids_BP[:, -1:], attention_mask=torch.cat([mask_BP, mask_BP[:, -1:]], 1),
                               past_key_values=cache, use_cache=True)


# ---- the vision patch embedding as one linear map (models/qwen3_vl_patch_embed.py) -------------


def test_linear_patch_embed_equals_the_stock_convolution_with_gradients(tiny_dir):
    from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLVisionPatchEmbed

    policy = load(tiny_dir, trainable=True)
    embed = policy._core.model.visual.patch_embed
    assert "forward" in vars(embed), "the policy installs the linear patch embedding"
    pixels = policy.encode_prompts([student_view()], random_images(1, 3)).inputs["pixel_values"]
    outputs = []
    for forward in (embed.forward, lambda x: Qwen3VLVisionPatchEmbed.forward(embed, x)):
        embed.zero_grad(set_to_none=True)
        out = forward(pixels)
        out.square().sum().backward()
        outputs.append((out.detach(), embed.proj.weight.grad.clone(), embed.proj.bias.grad.clone()))
    for ours, stock in zip(*outputs):
        torch.testing.assert_close(ours, stock, atol=1e-5, rtol=1e-5)


def test_a_convolution_that_is_not_one_map_per_block_keeps_the_stock_forward(tiny_dir):
    from mgsd_backend.models.qwen3_vl_patch_embed import use_linear_patch_embed

    policy = load(tiny_dir)
    embed = policy._core.model.visual.patch_embed
    del embed.forward
    embed.proj.padding = (1, 0, 0)
    assert use_linear_patch_embed(policy._core) is False
    assert "forward" not in vars(embed)
