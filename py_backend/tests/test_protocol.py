"""Request validation (protocol.py + validate.py): what passes, what fails, and what the error says.

Also pins the op table to `fixtures/golden/protocol.json`, which the TypeScript side
(`src/backend/protocol.test.ts`) checks its own declarations against. `UPDATE_GOLDEN=1` rewrites it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from mgsd_backend.errors import RequestError
from mgsd_backend.protocol import Op, describe_schemas
from mgsd_backend.validate import validate_request

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "golden" / "protocol.json"

VIEW = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "plan>"}]}]
TEXT_VIEW = [{"role": "user", "content": [{"type": "text", "text": "S..G"}]}]
CLIP = {"low": 0.2, "high": 0.3, "dual": 3.0}
TINY = {"kind": "tiny", "config": {"d_model": 64, "n_layers": 2, "n_heads": 4, "patch_px": 8, "max_seq_len": 128, "image_size_px": 40}}


def images(rows: int) -> torch.Tensor:
    return torch.zeros(rows, 40, 40, 3, dtype=torch.uint8)


def responses(rows: int, length: int = 5) -> dict[str, torch.Tensor]:
    return {"response_ids": torch.zeros(rows, length, dtype=torch.int64), "response_mask": torch.ones(rows, length, dtype=torch.bool)}


def distill_args(**changes: object) -> dict:
    args = {"role": "student", "views": [VIEW, VIEW], "estimator": "sampled", "temperature": 1.0, "lr": 1e-3,
            "grad_clip": 1.0, "clip": CLIP, "teacher": {"source": "wire"}}
    return {**args, **changes}


def test_the_op_table_matches_the_shared_golden_description() -> None:
    described = describe_schemas()
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(described, indent=2) + "\n")
    assert json.loads(GOLDEN.read_text()) == described


@pytest.mark.parametrize(
    ("op", "args", "tensors"),
    [
        ("ping", {}, {}),
        ("echo", {"anything": [1, {"x": None}]}, {"t": torch.zeros(2, 3, dtype=torch.float64)}),
        ("load", {"role": "teacher", "alias_of": "student"}, {}),
        ("load", {"role": "s", "model": TINY, "trainable": True, "optimizer": {"betas": [0.9, 0.95], "weight_decay": 0.0, "eps": 1e-8},
                  "device": "cpu", "dtype": "float32", "seed": 0, "checkpoint": None}, {}),
        ("generate", {"role": "s", "views": [VIEW], "sampling": {"max_new_tokens": 8, "temperature": 0, "top_p": 1.0, "seed": 3}},
         {"images": images(1)}),
        ("score", {"role": "t", "views": [TEXT_VIEW] * 2, "temperature": 1.0, "mode": "topk", "k": 4}, responses(2)),
        ("distill_step", distill_args(), {"images": images(2), **responses(2), "teacher_logprobs": torch.zeros(2, 5)}),
        ("distill_step", distill_args(teacher={"source": "role", "role": "t", "views": [TEXT_VIEW] * 2}), {"images": images(2), **responses(2)}),
        ("pg_step", {"role": "s", "views": [TEXT_VIEW], "lr": 0.0, "grad_clip": 1.0, "clip": CLIP},
         {**responses(1), "advantages": torch.ones(1), "old_logprobs": torch.zeros(1, 5)}),
    ],
)
def test_well_formed_requests_pass(op: str, args: dict, tensors: dict) -> None:
    assert validate_request(op, args, tensors) is Op(op)


@pytest.mark.parametrize(
    ("op", "args", "tensors", "message"),
    [
        ("load", {"role": "s", "alias_of": "t", "seed": 1}, {}, "op load: args: alias_of loads take only role and alias_of, got also seed"),
        ("load", {"role": "s", "model": TINY}, {}, "op load: args: missing device, dtype, seed, trainable"),
        ("load", {"role": "s", "model": {"kind": "gpt"}, "device": "cpu", "dtype": "float32", "seed": 0, "trainable": False}, {},
         'op load: args.model.kind: expected "tiny" | "hf", got "gpt" (string)'),
        ("generate", {"role": "s", "views": [VIEW], "sampling": {"max_new_tokens": 0, "temperature": 1, "top_p": 1, "seed": 0}},
         {"images": images(1)}, "args.sampling.max_new_tokens: expected an integer >= 1, got 0 (number)"),
        ("generate", {"role": "s", "views": [VIEW], "sampling": {"max_new_tokens": 4, "temperature": True, "top_p": 1, "seed": 0}},
         {"images": images(1)}, "args.sampling.temperature: expected a number >= 0, got true (boolean)"),
        ("generate", {"role": "s", "views": [[{"role": "robot", "content": [{"type": "text", "text": "x"}]}]],
                      "sampling": {"max_new_tokens": 4, "temperature": 1, "top_p": 1, "seed": 0}}, {},
         'args.views[0][0].role: expected "system" | "user" | "assistant", got "robot"'),
        ("generate", {"role": "s", "views": [VIEW], "sampling": {"max_new_tokens": 4, "temperature": 1, "top_p": 1, "seed": 0}}, {},
         "args.views[0] has an image part but the request has no images tensor"),
        ("score", {"role": "t", "views": [TEXT_VIEW], "temperature": 1.0, "mode": "topk"}, responses(1),
         'args.k: missing (required when mode is "topk")'),
        ("score", {"role": "t", "views": [TEXT_VIEW] * 2, "temperature": 1.0, "mode": "token"}, responses(3),
         "tensor response_ids: 3 row(s) but 2 view(s)"),
        ("score", {"role": "t", "views": [TEXT_VIEW], "temperature": 1.0, "mode": "token"},
         {**responses(1), "response_mask": torch.ones(1, 4, dtype=torch.bool)}, "tensor response_mask: shape [1, 4] differs from response_ids's [1, 5]"),
        ("score", {"role": "t", "views": [TEXT_VIEW], "temperature": 1.0, "mode": "token"}, {**responses(1), "extra": torch.zeros(1)},
         "unexpected tensor(s) extra"),
        ("score", {"role": "t", "views": [TEXT_VIEW], "temperature": 1.0, "mode": "token"}, {"response_ids": torch.zeros(1, 5, dtype=torch.int64)},
         "tensor response_mask: missing (expected bool with per-row rank 1)"),
        ("sft_step", {"role": "s", "views": [VIEW], "targets": ["R"], "append_eos": True, "lr": 1e-3, "grad_clip": 1.0},
         {"images": torch.zeros(1, 40, 40, 4, dtype=torch.uint8)}, "tensor images: expected [H, W, 3] RGB per row, got [40, 40, 4]"),
        ("distill_step", distill_args(), {"images": images(2), **responses(2)},
         "tensor teacher_logprobs: missing (estimator 'sampled' with a wire teacher needs it)"),
        ("distill_step", distill_args(clip={"low": 0.2, "high": 0.3}), {"images": images(2), **responses(2), "teacher_logprobs": torch.zeros(2, 5)},
         "args.clip.dual: missing"),
        ("pg_step", {"role": "s", "views": [TEXT_VIEW], "lr": 1e-3, "grad_clip": 1.0, "clip": CLIP},
         {**responses(1), "advantages": torch.ones(1, 5, 2), "old_logprobs": torch.zeros(1, 5)}, "tensor advantages: expected per-row rank 0 or 1"),
        ("save", {"role": "s", "dir": "/x", "include_optimizer": "yes"}, {}, 'args.include_optimizer: expected true or false, got "yes"'),
        ("ping", [], {}, "args: expected an object, got [] (array)"),
    ],
)
def test_malformed_requests_name_the_op_the_field_and_the_received_value(op: str, args: object, tensors: dict, message: str) -> None:
    with pytest.raises(RequestError) as caught:
        validate_request(op, args, tensors)
    assert caught.value.code == "bad_request"
    assert message in caught.value.message, caught.value.message
    assert caught.value.message.startswith(f"op {op}:")


def test_unknown_ops_list_the_known_ones() -> None:
    with pytest.raises(RequestError, match=r"unknown op 'train' \(known ops: ping, echo, stop, set_threads, load, generate"):
        validate_request("train", {}, {})
