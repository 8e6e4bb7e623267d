"""Micro-batching (micro_batch.py): a step split into micro-batches takes the same update and
reports the same metrics as the whole batch at once (token-mean over the whole batch)."""

from __future__ import annotations

import torch

from mgsd_backend.micro_batch import combine_results, row_slices
from mgsd_backend.worker import Worker
from tiny_fixtures import CLIP, images, load_args, student_views, teacher_views

ROWS = 5


def fresh() -> Worker:
    worker = Worker(threads=1)
    worker.load(load_args("student", seed=0), {})
    worker.load(load_args("teacher", seed=7, trainable=False), {})
    return worker


def weights(worker: Worker) -> list[torch.Tensor]:
    return [p.detach().clone() for p in worker.roles["student"].model.trainable_parameters()]


def responses(worker: Worker) -> dict:
    sampling = {"max_new_tokens": 10, "temperature": 1.0, "top_p": 1.0, "seed": 3}
    _, out = worker.generate({"role": "student", "views": student_views(ROWS), "sampling": sampling},
                             {"images": images(ROWS)})
    return {"images": images(ROWS), "response_ids": out["response_ids"], "response_mask": out["response_mask"],
            "old_logprobs": out["logprobs"]}


def run_both(step) -> tuple[tuple, tuple]:
    """(result, out, weights) of `step(worker, micro)` with micro None and 2, from identical workers."""
    outcomes = []
    for micro in (None, 2):
        worker = fresh()
        result, out = step(worker, micro)
        outcomes.append((result, out, weights(worker)))
    return outcomes[0], outcomes[1]


def assert_same(whole, split, keys) -> None:
    for key in keys:
        if whole[0][key] is None:
            assert split[0][key] is None, key
        else:
            assert abs(whole[0][key] - split[0][key]) < 1e-5 * max(1.0, abs(whole[0][key])), (key, whole[0], split[0])
    for a, b in zip(whole[2], split[2]):
        # AdamW amplifies rounding where a gradient is ~eps (the update flips between 0 and lr there);
        # grad_norm above pins the accumulated gradient itself.
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)
    assert split[0]["micro_batches"] == 3 and "micro_batches" not in whole[0]


def test_a_micro_batched_sft_step_equals_the_whole_batch():
    targets = ["R", "DDRR", "LU", "RRRRDDDD", "U"]  # unequal lengths: the token weighting matters

    def step(worker, micro):
        args = {"role": "student", "views": student_views(ROWS), "targets": targets, "append_eos": True,
                "lr": 1e-2, "grad_clip": 1.0, "micro_batch_size": micro}
        return worker.sft_step(args, {"images": images(ROWS)})

    whole, split = run_both(step)
    assert_same(whole, split, ["loss", "grad_norm", "tokens", "update_rel_norm"])
    # Rounding order can leave a handful of near-zero updates exactly zero in one of the two.
    assert abs(whole[0]["update_changed_fraction"] - split[0]["update_changed_fraction"]) < 1e-3


def test_a_micro_batched_distill_step_equals_the_whole_batch():
    def step(worker, micro):
        args = {"role": "student", "views": student_views(ROWS), "estimator": "full", "temperature": 1.0,
                "lr": 1e-2, "grad_clip": 1.0, "clip": CLIP, "k": 4, "micro_batch_size": micro,
                "teacher": {"source": "role", "role": "teacher", "views": teacher_views(ROWS)}}
        return worker.distill_step(args, responses(worker))

    whole, split = run_both(step)
    assert_same(whole, split, ["loss", "kl", "log_ratio_mean", "student_entropy", "teacher_entropy", "grad_norm",
                               "tokens"])
    torch.testing.assert_close(whole[1]["log_ratio"], split[1]["log_ratio"], atol=1e-6, rtol=0)


def test_a_micro_batched_pg_step_equals_the_whole_batch():
    def step(worker, micro):
        batch = responses(worker) | {"advantages": torch.tensor([1.0, -1.0, 0.5, 2.0, -0.5])}
        args = {"role": "student", "views": student_views(ROWS), "lr": 1e-2, "grad_clip": 1.0, "clip": CLIP,
                "micro_batch_size": micro}
        return worker.pg_step(args, batch)

    whole, split = run_both(step)
    assert_same(whole, split, ["loss", "grad_norm", "clip_fraction", "tokens"])


def test_row_slices_and_token_weighted_metrics():
    assert row_slices(5, 2) == [slice(0, 2), slice(2, 4), slice(4, 5)]
    assert row_slices(5, None) == row_slices(5, 8) == [slice(0, 5)]
    merged = combine_results([{"loss": 1.0, "tokens": 1, "kl": None}, {"loss": 4.0, "tokens": 3, "kl": None}], [1, 3])
    assert merged == {"loss": 3.25, "tokens": 4, "kl": None}
