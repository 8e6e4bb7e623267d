"""Per-row seeded sampling (models/sampling.py) for both model kinds: the inverse-CDF draw follows
the tempered, top-p-filtered distribution and never picks a zero-probability token; a row's samples depend on (seed, global row) only, so a
batch split with `row_offset` samples exactly what the whole batch samples; the log-probs reported
by `generate` equal a teacher-forced `score` of the same ids."""

from __future__ import annotations

import pytest
import torch

from mgsd_backend.models.base import SamplingParams
from mgsd_backend.models.registry import build_model
from mgsd_backend.models.sampling import RowUniforms, inverse_cdf, row_seed, select_next, suppress_bias
from qwen_fixtures import random_images, student_view, teacher_view
from tiny_fixtures import SMALL_CONFIG, images

torch.set_num_threads(1)


# ---- the selection rule ----------------------------------------------------------------------


def test_draws_follow_the_tempered_distribution():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    rows = 20000
    token_B, _ = select_next(logits.expand(rows, -1), 0.5, 1.0, RowUniforms(seed=3, row_offset=0, batch=rows))
    freq = torch.bincount(token_B, minlength=4).float() / rows
    torch.testing.assert_close(freq, torch.softmax(logits / 0.5, -1), atol=0.015, rtol=0)


def test_top_p_keeps_the_nucleus_and_suppressed_ids_are_never_drawn():
    logits = torch.tensor([3.0, 2.9, 0.0, -1.0, 2.95])
    rows = 4000
    token_B, logprob_B = select_next(logits.expand(rows, -1), 1.0, 0.6, RowUniforms(1, 0, rows),
                                     suppress_bias([4], 5, torch.device("cpu")))
    assert set(token_B.tolist()) == {0, 1}  # id 4 suppressed; {0, 1} then hold ≥ 0.6 of the mass
    # The reported log-prob is the raw tempered one: suppression and top-p do not renormalise it.
    torch.testing.assert_close(logprob_B[token_B == 0][0], torch.log_softmax(logits, -1)[0])


def test_inverse_cdf_never_lands_on_a_zero_probability_token_even_at_the_ends():
    probs = torch.tensor([[0.0, 0.5, 0.0, 0.5, 0.0]] * 4)
    # The smallest uniform, one exactly at a step of the running sum, and 1 (the total itself).
    uniforms = torch.tensor([2.0 ** -53, 0.5, 0.5 + 2.0 ** -52, 1.0], dtype=torch.float64)
    assert inverse_cdf(probs, uniforms).tolist() == [1, 1, 3, 3]


def test_uniforms_are_per_row_per_step_and_in_the_half_open_unit_interval():
    a, b = RowUniforms(7, 0, 4), RowUniforms(7, 2, 2)
    first_a, first_b = a.next(torch.device("cpu")), b.next(torch.device("cpu"))
    assert torch.equal(first_a[2:], first_b)  # rows 2-3 of a batch = rows 0-1 of its second shard
    second_a = a.next(torch.device("cpu"))
    assert not torch.equal(first_a, second_a)  # a new number every step
    many = torch.cat([RowUniforms(s, 0, 64).next(torch.device("cpu")) for s in range(100)])
    assert float(many.min()) > 0 and float(many.max()) <= 1 and abs(float(many.mean()) - 0.5) < 0.02


def test_row_seeds_differ_across_rows_and_seeds_and_never_go_negative():
    seeds = {row_seed(s, r) for s in range(20) for r in range(50)}
    assert len(seeds) == 1000 and min(seeds) >= 0 and max(seeds) < 2 ** 63
    with pytest.raises(ValueError, match="row_offset"):
        RowUniforms(0, -1, 2)


def test_greedy_needs_no_uniforms_and_sampling_does():
    logits = torch.randn(3, 7)
    token_B, _ = select_next(logits, 0.0, 1.0, None)
    assert torch.equal(token_B, logits.argmax(-1))
    with pytest.raises(ValueError, match="RowUniforms"):
        select_next(logits, 1.0, 1.0, None)
    with pytest.raises(ValueError, match="made for 2 rows"):
        select_next(logits, 1.0, 1.0, RowUniforms(0, 0, 2))


# ---- both model kinds: batch split and log-prob semantics ------------------------------------


def split_matches_whole(model, views, imgs, params: SamplingParams) -> None:
    whole = model.generate(model.encode_prompts(views, imgs), params)
    for start, stop in ((0, 4), (4, 8)):
        part_images = None if imgs is None else imgs[start:stop]
        part = model.generate(model.encode_prompts(views[start:stop], part_images),
                              SamplingParams(params.max_new_tokens, params.temperature, params.top_p, params.seed,
                                             row_offset=start))
        width = part.response_ids_BR.shape[1]
        assert torch.equal(part.response_ids_BR, whole.response_ids_BR[start:stop, :width]), (start, stop)
        assert not whole.response_mask_BR[start:stop, width:].any()
        torch.testing.assert_close(part.logprobs_BR, whole.logprobs_BR[start:stop, :width], atol=1e-4, rtol=0)
        assert part.texts == whole.texts[start:stop]


def tiny_model():
    return build_model({"kind": "tiny", "config": SMALL_CONFIG}, device="cpu", dtype="float32", seed=4,
                       trainable=False, checkpoint=None)


def tiny_views(n: int) -> list:
    from mgsd_backend.chat_views import parse_views

    return parse_views([[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": f"go {i}" + "!" * (i % 3) + ">"}]}]
                        for i in range(n)], "views")


@pytest.mark.parametrize("top_p", [1.0, 0.9])
def test_tiny_split_batch_samples_what_the_whole_batch_samples(top_p):
    split_matches_whole(tiny_model(), tiny_views(8), images(8), SamplingParams(12, 1.0, top_p, seed=11))


def test_hf_split_batch_samples_what_the_whole_batch_samples(frozen):
    views = [student_view(f"Find goal {i}. " + "Now. " * (i % 3)) for i in range(8)]
    split_matches_whole(frozen, views, random_images(8, 3), SamplingParams(6, 1.0, 0.95, seed=21))


def test_row_offset_changes_the_samples(frozen):
    prompts = frozen.encode_prompts([teacher_view()] * 2, None)
    a = frozen.generate(prompts, SamplingParams(8, 1.0, 1.0, seed=2))
    b = frozen.generate(prompts, SamplingParams(8, 1.0, 1.0, seed=2, row_offset=2))
    assert torch.equal(a.response_ids_BR[0], a.response_ids_BR[0])
    assert not torch.equal(a.response_ids_BR, b.response_ids_BR)
    assert not torch.equal(a.response_ids_BR[0], a.response_ids_BR[1])  # same prompt, different rows


@pytest.mark.parametrize("temperature", [0.0, 0.7])
@pytest.mark.parametrize("with_image", [True, False])
def test_hf_generate_logprobs_equal_teacher_forced_scores(frozen, temperature, with_image):
    # generate() no longer recomputes log-probs with a second forward: those it records while
    # decoding must equal a teacher-forced score of the same ids (temperature 1 when greedy).
    views = [student_view(), student_view("A longer one, please. ")] if with_image else [teacher_view("S"), teacher_view()]
    prompts = frozen.encode_prompts(views, random_images(2, 1) if with_image else None)
    out = frozen.generate(prompts, SamplingParams(10, temperature, 1.0, seed=4))
    with torch.no_grad():
        scored = frozen.token_logprobs(prompts, out.response_ids_BR, out.response_mask_BR, temperature or 1.0)
    assert out.response_mask_BR.any()
    torch.testing.assert_close(out.logprobs_BR, scored, atol=1e-4, rtol=0)
