"""The worker encodes each (model, views, images) once per step (prompt_cache.py): generate and
distill_step on the same views share one encoding; other images, other views, another model or a
reload encode again; a hit gives exactly what a fresh encode gives."""

from __future__ import annotations

import torch

from mgsd_backend.prompt_cache import PromptCache
from test_worker import distill, generate, new_worker
from tiny_fixtures import images, student_views, teacher_views, load_args


def count_encodes(worker, role: str) -> list[int]:
    model = worker.roles[role].model
    calls = [0]
    inner = model.encode_prompts

    def counting(*args, **kwargs):
        calls[0] += 1
        return inner(*args, **kwargs)

    model.encode_prompts = counting
    return calls


def test_generate_then_distill_step_encode_the_student_views_once():
    worker = new_worker(("student", 0, True), ("teacher", 1, False))
    student_calls, teacher_calls = count_encodes(worker, "student"), count_encodes(worker, "teacher")
    views, imgs = student_views(3), images(3)
    _, responses = generate(worker, "student", views, imgs, temperature=1.0)
    distill(worker, views, imgs, responses, "sampled", {"source": "role", "role": "teacher", "views": teacher_views(3)})
    assert student_calls[0] == 1 and teacher_calls[0] == 1
    generate(worker, "student", views, images(3, seed=5))  # other images: a new encoding
    assert student_calls[0] == 2
    worker.load(load_args("teacher", seed=1, trainable=False), {})  # any load clears the cache
    generate(worker, "student", views, images(3, seed=5))
    assert student_calls[0] == 3


def test_a_hit_is_what_encoding_again_gives():
    worker = new_worker(("student", 0, False))
    model = worker.roles["student"].model
    cache = PromptCache(max_entries=1)
    from mgsd_backend.chat_views import parse_views

    views_json, imgs = student_views(2), images(2)
    encode = lambda: model.encode_prompts(parse_views(views_json, "views"), imgs)  # noqa: E731
    first = cache.get_or_encode(model, views_json, imgs, encode)
    assert cache.get_or_encode(model, views_json, imgs.clone(), encode) is first
    fresh = encode()
    for name, value in fresh.inputs.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, first.inputs[name]), name
    cache.get_or_encode(model, student_views(1), imgs[:1], encode)  # evicts the first (one entry)
    assert cache.get_or_encode(model, views_json, imgs, encode) is not first
