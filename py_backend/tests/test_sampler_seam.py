"""The sampler seam (models/base.py `Sampler`): the worker samples a role through its sampler and
tells it about every optimizer step, with the new weights on demand; aliases share the owner's
sampler. A recording sampler stands in for an external engine holding its own weight copy."""

from __future__ import annotations

import torch

from mgsd_backend.models.base import InProcessSampler, Sampler
from test_worker import generate, new_worker, sft
from tiny_fixtures import images, student_views


class CopyingSampler(Sampler):
    """Keeps its own copy of the weights (as an external engine would) and samples in-process."""

    def __init__(self, policy) -> None:
        self.inner = InProcessSampler(policy)
        self.copy = {name: w.detach().clone() for name, w in policy.named_weights()}
        self.steps: list[int] = []
        self.generated = 0

    def generate(self, prompts, params):
        self.generated += 1
        return self.inner.generate(prompts, params)

    def update_weights(self, weights, step: int) -> None:
        self.copy = {name: w.detach().clone() for name, w in weights()}
        self.steps.append(step)

    def describe(self):
        return {"engine": "copying", "weights_step": self.steps[-1] if self.steps else 0}


def test_the_worker_samples_through_the_sampler_and_pushes_weights_after_each_step():
    worker = new_worker(("student", 0, True))
    worker.load({"role": "live", "alias_of": "student"}, {})
    state = worker.roles["student"]
    assert isinstance(state.sampler, InProcessSampler) and worker.roles["live"].sampler is state.sampler
    sampler = CopyingSampler(state.model)
    state.sampler = worker.roles["live"].sampler = sampler
    views, imgs = student_views(2), images(2)
    generate(worker, "live", views, imgs)
    assert sampler.generated == 1
    before = dict(sampler.copy)
    sft(worker, views, imgs, ["ab", "cd"])
    sft(worker, views, imgs, ["ab", "cd"])
    assert sampler.steps == [1, 2]
    live = dict(state.model.named_weights())
    assert set(sampler.copy) == set(live)
    assert all(torch.equal(sampler.copy[n], live[n]) for n in live)
    assert any(not torch.equal(before[n], live[n]) for n in live)  # the push carried new weights
