"""Request validation against the generated contract (protocol.py + validate.py + schema_errors.py):
what passes, what fails, and what the error says. The contract file itself is generated from
src/backend/protocol.ts; `src/cli/generated.test.ts` fails while it is stale.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mgsd_backend.errors import RequestError
from mgsd_backend.schema_errors import WireValidator, first_error, validator
from mgsd_backend.protocol import CONTRACT, ESTIMATORS, PROTOCOL_VERSION, SCHEMAS, SERVER_OPS, WIRE_TEACHER_TENSORS, Op
from mgsd_backend.validate import validate_request

VIEW = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "plan>"}]}]
TEXT_VIEW = [{"role": "user", "content": [{"type": "text", "text": "S..G"}]}]
CLIP = {"low": 0.2, "high": 0.3, "dual": 3.0}
TINY = {"kind": "tiny", "config": {"d_model": 64, "n_layers": 2, "n_heads": 4, "patch_px": 8, "max_seq_len": 128, "image_size_px": 40}}


CASES = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "golden" / "protocol-cases.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c['op']}-{'ok' if c['valid'] else 'bad'}" for i, c in enumerate(CASES)])
def test_shared_cases_are_judged_as_the_zod_schemas_judge_them(case: dict) -> None:
    """src/backend/protocol.test.ts parses the same cases with zod: both sides enforce one contract."""
    error = first_error(validator(SCHEMAS[Op(case["op"])].args), case["args"], "args")
    assert (error is None) == case["valid"], error and error.message


def images(rows: int) -> torch.Tensor:
    return torch.zeros(rows, 40, 40, 3, dtype=torch.uint8)


def responses(rows: int, length: int = 5) -> dict[str, torch.Tensor]:
    return {"response_ids": torch.zeros(rows, length, dtype=torch.int64), "response_mask": torch.ones(rows, length, dtype=torch.bool)}


def distill_args(**changes: object) -> dict:
    args = {"role": "student", "views": [VIEW, VIEW], "estimator": "sampled", "temperature": 1.0, "lr": 1e-3,
            "grad_clip": 1.0, "clip": CLIP, "teacher": {"source": "wire"}}
    return {**args, **changes}


@pytest.mark.parametrize("op", list(Op))
def test_every_contract_schema_is_a_valid_draft_2020_12_schema(op: Op) -> None:
    WireValidator.check_schema(SCHEMAS[op].args)
    WireValidator.check_schema(SCHEMAS[op].result)


def test_the_envelope_schemas_are_valid_and_refuse_a_hello_without_its_keys() -> None:
    for schema in CONTRACT["envelope"].values():
        WireValidator.check_schema(schema)
    error = first_error(validator(CONTRACT["envelope"]["hello"]), {"v": PROTOCOL_VERSION, "op": "hello"}, "hello")
    assert error is not None and error.message.startswith("hello: missing token, pid")


def test_the_contract_declares_every_op_with_schemas_and_vocabularies() -> None:
    assert isinstance(PROTOCOL_VERSION, int) and PROTOCOL_VERSION >= 1
    assert set(SCHEMAS) == set(Op) and {Op.PING, Op.STOP} <= SERVER_OPS
    assert set(WIRE_TEACHER_TENSORS) == set(ESTIMATORS) == {"sampled", "topk", "full", "forward"}
    for op, schema in SCHEMAS.items():
        assert schema.args.get("type") in ("object", None), op  # load is a union of two objects
        assert schema.result, op
    assert CONTRACT["max_message_mib"] > 0


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
        ("load", {"role": "s", "alias_of": "t", "seed": 1}, {}, "op load: args: unknown key(s) seed (known keys of an alias load"),
        ("load", {"role": "s", "model": TINY}, {}, "op load: args: missing trainable, device, dtype, seed (required by a fresh model load"),
        ("load", {"role": "s", "model": TINY, "trainable": 1, "device": "cpu", "dtype": "float32", "seed": 0}, {},
         "op load: args.trainable: expected true or false, got 1 (number)"),
        ("load", {"role": "s", "model": TINY, "trainable": True, "device": "cpu", "dtype": "float32", "seed": 0,
                  "optimizer": {"betas": [0.9], "weight_decay": 0, "eps": 1e-8}}, {},
         "op load: args.optimizer.betas: expected an array of exactly 2 items, got [0.9] (array)"),
        ("load", {"role": "s", "model": {"kind": "hf", "path": "p", "lora": {"rank": 0, "alpha": 1, "dropout": 0},
                  "gradient_checkpointing": False}, "trainable": True, "device": "cpu", "dtype": "float32", "seed": 0}, {},
         "op load: args.model.lora.rank: expected an integer >= 1, got 0 (number)"),
        ("generate", {"role": "s", "views": [VIEW], "sampling": {"max_new_tokens": 4, "temperature": 1, "top_p": "high", "seed": 0}},
         {"images": images(1)}, 'op generate: args.sampling.top_p: expected a number in (0, 1], got "high" (string)'),
        ("generate", {"role": "s", "views": [VIEW], "sampling": {"max_new_tokens": 4, "temperature": 1, "top_p": 1, "seed": 1.5}},
         {"images": images(1)}, "op generate: args.sampling.seed: expected an integer >= 0, got 1.5 (number)"),
        ("generate", {"role": "s", "views": [VIEW], "sampling": {"max_new_tokens": 4, "temperature": float("nan"), "top_p": 1, "seed": 1}},
         {"images": images(1)}, "op generate: args.sampling.temperature: expected a number >= 0, got NaN (number)"),
        ("generate", {"role": "s", "views": [VIEW], "sampling": {"max_new_tokens": 4, "temperature": 1, "top_p": 1, "seed": 1, "topk": 3}},
         {"images": images(1)}, "op generate: args.sampling: unknown key(s) topk (known keys: max_new_tokens, temperature, top_p, seed)"),
        ("generate", {"role": "s", "views": [VIEW], "sampling": {"max_new_token": 4, "temperature": 1, "top_p": 1, "seed": 1}},
         {"images": images(1)}, "op generate: args.sampling: unknown key(s) max_new_token (known keys: max_new_tokens,"),
        ("generate", {"role": "s", "views": [[{"role": "user", "content": [{"type": "video"}]}]],
                      "sampling": {"max_new_tokens": 4, "temperature": 1, "top_p": 1, "seed": 0}}, {},
         'op generate: args.views[0][0].content[0].type: expected "text" | "image", got "video" (string)'),
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
        ("score", {"role": "t", "views": [TEXT_VIEW], "temperature": 1.0, "mode": "topk", "k": None}, responses(1),
         'args.k: expected a value, got null (null) (required when mode is "topk")'),
        ("distill_step", distill_args(estimator="topk"), {"images": images(2), **responses(2)},
         'args.k: missing (required when estimator is "topk")'),
        ("distill_step", distill_args(estimator="reverse"), {"images": images(2), **responses(2)},
         'args.estimator: expected "sampled" | "topk" | "full" | "forward", got "reverse" (string)'),
        ("distill_step", distill_args(teacher={"source": "role", "views": [TEXT_VIEW] * 2}), {"images": images(2), **responses(2)},
         "args.teacher.role: missing (expected a non-empty string)"),
        ("score", {"role": "t", "views": [TEXT_VIEW] * 2, "temperature": 1.0, "mode": "token"}, responses(3),
         "tensor response_ids: 3 row(s) but 2 view(s)"),
        ("score", {"role": "t", "views": [TEXT_VIEW], "temperature": 1.0, "mode": "token"},
         {**responses(1), "response_mask": torch.ones(1, 4, dtype=torch.bool)}, "tensor response_mask: shape [1, 4] differs from response_ids's [1, 5]"),
        ("score", {"role": "t", "views": [TEXT_VIEW], "temperature": 1.0, "mode": "token"}, {**responses(1), "extra": torch.zeros(1)},
         "unexpected tensor(s) extra"),
        ("score", {"role": "t", "views": [TEXT_VIEW], "temperature": 1.0, "mode": "token"}, {"response_ids": torch.zeros(1, 5, dtype=torch.int64)},
         "tensor response_mask: missing (expected bool with per-row rank 1)"),
        ("sft_step", {"role": "s", "views": [VIEW], "targets": ["R"], "append_eos": True, "lr": 1e-3, "grad_clip": 1.0},
         {"images": torch.zeros(1, 40, 40, 4, dtype=torch.uint8)}, "tensor images: expected last dimension 3 per row, got shape [40, 40, 4] per row"),
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
