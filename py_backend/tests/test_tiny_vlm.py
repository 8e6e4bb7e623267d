"""The tiny VLM: tokenizer and chat template, KV-cache sampling, batching, seeding, and the image path."""

from __future__ import annotations

import pytest
import torch

from mgsd_backend.models import tiny_tokenizer as tok
from mgsd_backend.models.base import SamplingParams
from mgsd_backend.models.registry import build_model
from mgsd_backend.models.tiny_vlm import TinyVLM
from tiny_fixtures import SMALL_CONFIG, images, text_view

torch.set_num_threads(1)


def make_model(seed: int = 0, config: dict | None = None) -> TinyVLM:
    model = build_model({"kind": "tiny", "config": SMALL_CONFIG if config is None else config}, device="cpu", dtype="float32",
                        seed=seed, trainable=False, checkpoint=None)
    assert isinstance(model, TinyVLM)
    return model


def test_default_config_is_the_calibrated_size():
    model = make_model(config={})
    facts = model.describe()
    assert facts["config"]["d_model"] == 128 and model.config.n_visual == 25
    assert 0.8e6 < facts["params"] < 0.9e6, facts["params"]


def test_text_round_trips_and_unknown_characters_name_the_sample():
    text = "N4 S00 G33;\nRRDD~ "
    assert tok.decode(tok.encode_text(text, "x")) == text
    with pytest.raises(ValueError, match=r"sample 2: target: character 'é' \(U\+00E9\) at offset 1"):
        make_model().encode_targets(["ok", "fine", "hé"], append_eos=True)


def test_chat_template_places_roles_image_tokens_and_generation_prompt():
    model = make_model()
    views = [(text_view("ab", with_image=True)[0],)]
    enc = model.encode_prompts(views, images(1))
    ids = enc.inputs["ids_BP"][0].tolist()
    assert ids == [tok.BOS_ID, tok.USER_ID] + [tok.IMAGE_ID] * 25 + tok.encode_text("ab", "") + [tok.ASSISTANT_ID]
    assert enc.has_images and int(enc.inputs["visual_BP"].sum()) == 25


def test_teacher_view_gets_no_visual_tokens_and_student_image_changes_logits():
    model = make_model()
    teacher = model.encode_prompts([text_view("S..\n.HG")], None)
    assert not teacher.has_images and not bool(teacher.inputs["visual_BP"].any())
    response = torch.tensor([tok.encode_text("RRDD", "")])
    mask = torch.ones_like(response, dtype=torch.bool)
    img = images(1)
    student = model.encode_prompts([text_view(">", with_image=True)], img)
    zeroed = model.encode_prompts([text_view(">", with_image=True)], torch.zeros_like(img))
    with torch.no_grad():
        a = model.logits(model.response_hidden(student, response, mask)[0])
        b = model.logits(model.response_hidden(zeroed, response, mask)[0])
    assert (a - b).abs().max() > 1e-3


def test_image_and_view_mismatches_are_value_errors_naming_the_sample():
    model = make_model()
    with pytest.raises(ValueError, match="sample 1: the view has an image part but the request has no images"):
        model.encode_prompts([text_view("a"), text_view("b", with_image=True)], None)
    with pytest.raises(ValueError, match="sample 0: images row 0 is not used"):
        model.encode_prompts([text_view("a")], images(1))
    with pytest.raises(ValueError, match=r"images: expected uint8 \[1, 40, 40, 3\]"):
        model.encode_prompts([text_view("a", with_image=True)], images(1, size=48))


def test_sequences_longer_than_max_seq_len_are_refused():
    model = make_model()
    enc = model.encode_prompts([text_view("x" * 100)], None)
    with pytest.raises(ValueError, match="exceed the tiny model's max_seq_len 128"):
        model.generate(enc, SamplingParams(max_new_tokens=40, temperature=0, top_p=1, seed=0))


def step_by_step_greedy(model: TinyVLM, enc, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy decoding by re-running the full forward on the whole sequence at every step."""
    B = enc.batch_size
    tokens = torch.zeros((B, 0), dtype=torch.long)
    logprobs = []
    for t in range(n):
        response = torch.cat([tokens, torch.zeros((B, 1), dtype=torch.long)], dim=1)
        with torch.no_grad():
            hidden = model.response_hidden(enc, response, torch.ones_like(response, dtype=torch.bool))
        lp = torch.log_softmax(model.logits(hidden[:, t]), dim=-1)
        nxt = lp.argmax(-1)
        logprobs.append(lp.gather(-1, nxt[:, None]).squeeze(-1))
        tokens = torch.cat([tokens, nxt[:, None]], dim=1)
    return tokens, torch.stack(logprobs, dim=1)


def test_kv_cache_generation_equals_step_by_step_full_forward():
    model = make_model(seed=3)
    views = [text_view("go>", with_image=True), text_view("a much longer prompt>", with_image=True)]
    enc = model.encode_prompts(views, images(2))
    gen = model.generate(enc, SamplingParams(max_new_tokens=12, temperature=0, top_p=1, seed=0), ignore_eos=True)
    ref_tokens, ref_logprobs = step_by_step_greedy(model, enc, 12)
    assert torch.equal(gen.response_ids_BR, ref_tokens)
    torch.testing.assert_close(gen.logprobs_BR, ref_logprobs, atol=1e-5, rtol=0)


def test_same_seed_same_samples_and_different_seed_different_samples():
    model = make_model()
    enc = model.encode_prompts([text_view(">", with_image=True)] * 4, images(4))

    def sample(seed: int):
        return model.generate(enc, SamplingParams(max_new_tokens=16, temperature=1.0, top_p=0.95, seed=seed))

    a, b, c = sample(7), sample(7), sample(8)
    assert torch.equal(a.response_ids_BR, b.response_ids_BR) and a.texts == b.texts
    assert not torch.equal(a.response_ids_BR, c.response_ids_BR)


def test_batched_left_padded_generation_equals_per_sample_generation():
    model = make_model(seed=5)
    prompts = ["x>", "a longer prompt here>", "mid length>"]
    imgs = images(3)
    params = SamplingParams(max_new_tokens=10, temperature=0, top_p=1, seed=0)
    batched = model.generate(model.encode_prompts([text_view(p, True) for p in prompts], imgs), params)
    for i, prompt in enumerate(prompts):
        alone = model.generate(model.encode_prompts([text_view(prompt, True)], imgs[i:i + 1]), params)
        n = int(alone.response_mask_BR.sum())
        assert batched.texts[i] == alone.texts[0]
        assert torch.equal(batched.response_ids_BR[i, :n], alone.response_ids_BR[0, :n])
        torch.testing.assert_close(batched.logprobs_BR[i, :n], alone.logprobs_BR[0, :n], atol=1e-5, rtol=0)


def test_generation_outputs_follow_the_interface():
    model = make_model(seed=1)
    enc = model.encode_prompts([text_view(">", True)] * 3, images(3))
    gen = model.generate(enc, SamplingParams(max_new_tokens=30, temperature=1.5, top_p=1, seed=2))
    for b in range(3):
        mask = gen.response_mask_BR[b]
        ids = gen.response_ids_BR[b][mask].tolist()
        assert gen.texts[b] == tok.decode(ids)
        if tok.EOS_ID in ids:
            assert ids.index(tok.EOS_ID) == len(ids) - 1  # the response ends at its EOS
        assert int(gen.token_char_end_BR[b][mask][-1]) == len(gen.texts[b])
        assert bool((gen.response_ids_BR[b][~mask] == tok.PAD_ID).all())
    # Logprobs are those of the tempered, unfiltered distribution: a teacher-forced rescore agrees.
    with torch.no_grad():
        hidden = model.response_hidden(enc, gen.response_ids_BR, gen.response_mask_BR)
        lp = torch.log_softmax(model.logits(hidden) / 1.5, dim=-1)
    rescored = lp.gather(-1, gen.response_ids_BR[..., None]).squeeze(-1).masked_fill(~gen.response_mask_BR, 0)
    torch.testing.assert_close(rescored, gen.logprobs_BR, atol=1e-5, rtol=0)


def test_tiny_top_p_keeps_only_the_most_likely_token():
    model = make_model(seed=2)
    enc = model.encode_prompts([text_view(">", True)] * 2, images(2))
    greedy = model.generate(enc, SamplingParams(max_new_tokens=8, temperature=0, top_p=1, seed=0), ignore_eos=True)
    nucleus = model.generate(enc, SamplingParams(max_new_tokens=8, temperature=1, top_p=1e-6, seed=9), ignore_eos=True)
    assert torch.equal(greedy.response_ids_BR, nucleus.response_ids_BR)


def test_kept_columns_of_the_last_block_equal_the_full_forward_with_gradients():
    """`blocks_forward(keep=…)` (what response_hidden and the prefill use) against the full width."""
    from mgsd_backend.models.tiny_net import causal_mask

    net = make_model().net.requires_grad_(True)
    generator = torch.Generator().manual_seed(4)
    x_BTD = torch.randn(2, 9, net.config.d_model, generator=generator)
    mask_BT = torch.ones(2, 9, dtype=torch.bool)
    mask_BT[0, :3] = False  # a left-padded row
    mask_BT[1, -2:] = False  # a response that stopped early
    mask_B1TT = causal_mask(mask_BT, 9, x_BTD.dtype)
    keep = slice(4, 8)
    results = []
    for kept in (True, False):
        net.zero_grad(set_to_none=True)
        out = (net.blocks_forward(x_BTD, mask_B1TT, keep=keep) if kept
               else net.blocks_forward(x_BTD, mask_B1TT)[:, keep])
        out.square().sum().backward()
        results.append((out.detach(), {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}))
    (ours, our_grads), (full, full_grads) = results
    assert ours.shape == (2, 4, net.config.d_model)
    torch.testing.assert_close(ours, full, atol=1e-6, rtol=1e-5)
    assert our_grads.keys() == full_grads.keys()
    for name, grad in full_grads.items():
        torch.testing.assert_close(our_grads[name], grad, atol=1e-6, rtol=1e-4, msg=name)


def test_spec_path_loads_a_saved_base_when_no_checkpoint_is_given(tmp_path):
    """`{"kind": "tiny", "path": dir}` (a base written by `mgsd pretrain`) starts from that model's
    weights, not the seed's; a saved shape other than the spec's is refused, naming both."""
    from mgsd_backend.errors import ModelLoadError

    saved = make_model(seed=3)
    saved.save(str(tmp_path))
    spec = {"kind": "tiny", "config": SMALL_CONFIG, "path": str(tmp_path)}
    loaded = build_model(spec, device="cpu", dtype="float32", seed=0, trainable=False, checkpoint=None)
    fresh = make_model(seed=0)
    for (name, a), (_, b), (_, c) in zip(saved.module().state_dict().items(), loaded.module().state_dict().items(),
                                          fresh.module().state_dict().items()):
        assert torch.equal(a, b), name
    assert any(not torch.equal(a, c) for a, c in zip(saved.module().state_dict().values(), fresh.module().state_dict().values()))
    other = {**SMALL_CONFIG, "n_layers": SMALL_CONFIG.get("n_layers", 1) + 1}
    with pytest.raises(ModelLoadError, match="different config"):
        build_model({**spec, "config": other}, device="cpu", dtype="float32", seed=0, trainable=False, checkpoint=None)
