"""Every model kind the registry builds honours the `PolicyModel` contract the server and losses rely on.

The same checks run on each kind (`tiny`, and `hf` on a tiny random Qwen3-VL), built through the
production `registry.build_model`: masked response positions hold the pad id and zero log-probs,
the sampled log-probs equal a teacher-forced rescore (`response_hidden` → `logits`), the hidden row
of response token j sees only the tokens before it, `decode` gives
the returned texts, a view/image mismatch is a ValueError, `describe` reports what was built, and a
saved model reloads to the same outputs. A kind that breaks one of these breaks the worker.
"""

from __future__ import annotations

import pytest
import torch

from mgsd_backend.errors import ModelLoadError
from mgsd_backend.models.base import PolicyModel, SamplingParams
from mgsd_backend.models.registry import build_model
from qwen_fixtures import random_images, spec, student_view
from tiny_fixtures import SMALL_CONFIG

torch.set_num_threads(1)

KIND_CASES = ["tiny", "hf"]


def model_spec(kind: str, tiny_dir) -> tuple[dict, int]:
    """(spec, image side in px) for one kind."""
    if kind == "tiny":
        return {"kind": "tiny", "config": dict(SMALL_CONFIG)}, SMALL_CONFIG["image_size_px"]
    return spec(tiny_dir), 64


def build(kind: str, tiny_dir, checkpoint: str | None = None, seed: int = 3) -> PolicyModel:
    model_spec_, _ = model_spec(kind, tiny_dir)
    return build_model(model_spec_, device="cpu", dtype="float32", seed=seed, trainable=False, checkpoint=checkpoint)


def generate(model: PolicyModel, px: int, temperature: float = 1.3):
    views = [student_view("Go. "), student_view("Find the goal, then stop. ")]
    prompts = model.encode_prompts(views, random_images(2, 4, px))
    params = SamplingParams(max_new_tokens=10, temperature=temperature, top_p=1.0, seed=11)
    return prompts, model.generate(prompts, params)


@pytest.fixture(params=KIND_CASES)
def kind(request) -> str:
    return request.param


def test_build_model_returns_the_kind_the_spec_names_and_describe_reports_it(kind, tiny_dir):
    model = build(kind, tiny_dir)
    facts = model.describe()
    assert model.kind == kind and facts["kind"] == kind
    assert facts["dtype"] == "float32" and facts["device"] == "cpu"
    assert facts["trainable_params"] == 0 and facts["params"] > 0 and facts["vocab"] == model.vocab_size


def test_masked_response_positions_hold_the_pad_id_and_zero_logprobs(kind, tiny_dir):
    model = build(kind, tiny_dir)
    _, gen = generate(model, model_spec(kind, tiny_dir)[1])
    mask = gen.response_mask_BR
    assert mask.dtype == torch.bool and mask[:, 0].all()
    assert (gen.response_ids_BR[~mask] == model.pad_id).all()
    assert (gen.logprobs_BR[~mask] == 0).all() and (gen.logprobs_BR[mask] < 0).all()
    assert (gen.token_char_end_BR[~mask] == 0).all()
    for row, text in enumerate(gen.texts):
        assert model.decode(gen.response_ids_BR[row][mask[row]].tolist()) == text


def test_sampled_logprobs_equal_a_teacher_forced_rescore_at_the_sampling_temperature(kind, tiny_dir):
    model = build(kind, tiny_dir)
    prompts, gen = generate(model, model_spec(kind, tiny_dir)[1], temperature=1.3)
    with torch.no_grad():
        hidden_BRD = model.response_hidden(prompts, gen.response_ids_BR, gen.response_mask_BR)
        logprobs_BRV = torch.log_softmax(model.logits(hidden_BRD.flatten(0, 1)) / 1.3, dim=-1)
    rescored_BR = logprobs_BRV.gather(-1, gen.response_ids_BR.flatten()[:, None]).view_as(gen.logprobs_BR)
    rescored_BR = rescored_BR.masked_fill(~gen.response_mask_BR, 0)
    torch.testing.assert_close(rescored_BR, gen.logprobs_BR, atol=1e-4, rtol=0)


def test_the_hidden_row_of_response_token_j_sees_only_the_tokens_before_j(kind, tiny_dir):
    # Independent of how `generate` computes its log-probs: position P+j-1 predicts token j, so
    # changing token 3 leaves rows 0..3 as they were and changes row 4.
    model = build(kind, tiny_dir)
    prompts, gen = generate(model, model_spec(kind, tiny_dir)[1])
    changed_BR = gen.response_ids_BR.clone()
    changed_BR[:, 3] = gen.response_ids_BR.flip(0)[:, 3]
    assert (changed_BR[:, 3] != gen.response_ids_BR[:, 3]).all(), "the fixture needs two different samples"
    with torch.no_grad():
        before_BRD = model.response_hidden(prompts, gen.response_ids_BR, gen.response_mask_BR)
        after_BRD = model.response_hidden(prompts, changed_BR, gen.response_mask_BR)
    torch.testing.assert_close(after_BRD[:, :4], before_BRD[:, :4], atol=1e-5, rtol=0)
    assert ((after_BRD[:, 4] - before_BRD[:, 4]).abs().amax(-1) > 1e-4).all()


def test_a_view_with_an_image_part_but_no_image_row_is_a_value_error(kind, tiny_dir):
    model = build(kind, tiny_dir)
    with pytest.raises(ValueError):
        model.encode_prompts([student_view()], None)


def test_a_saved_model_reloads_to_the_same_samples_whatever_the_init_seed(kind, tiny_dir, tmp_path):
    model = build(kind, tiny_dir)
    px = model_spec(kind, tiny_dir)[1]
    _, before = generate(model, px)
    model.save(str(tmp_path))
    _, after = generate(build(kind, tiny_dir, checkpoint=str(tmp_path), seed=4), px)
    assert torch.equal(before.response_ids_BR, after.response_ids_BR) and before.texts == after.texts
    torch.testing.assert_close(before.logprobs_BR, after.logprobs_BR, atol=1e-5, rtol=0)


def test_an_unknown_model_kind_is_a_model_load_error_naming_the_kinds():
    with pytest.raises(ModelLoadError, match=r"unknown kind 'qwen'.*'tiny', 'hf'"):
        build_model({"kind": "qwen"}, device="cpu", dtype="float32", seed=0, trainable=False, checkpoint=None)
