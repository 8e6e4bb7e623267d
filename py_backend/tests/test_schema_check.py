"""The compiled verdict (schema_check.py) against jsonschema, the validator that explains: the fast
path may only skip work, never accept a request the strict validator refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mgsd_backend.protocol import SCHEMAS, Op
from mgsd_backend.schema_errors import first_error, validator

CASES = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "golden" / "protocol-cases.json").read_text())["cases"]
VIEW = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "F>"}]}]


def generate_args(**sampling: object) -> dict:
    return {"role": "student", "views": [VIEW] * 3, "sampling": {"max_new_tokens": 8, "temperature": 0.7, "top_p": 1, "seed": 3, **sampling}}


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c['op']}" for i, c in enumerate(CASES)])
def test_the_compiled_verdict_never_accepts_what_jsonschema_refuses(case: dict) -> None:
    check = validator(SCHEMAS[Op(case["op"])].args)
    strict_ok = not list(check.explain.iter_errors(case["args"]))
    if check.surely_valid(case["args"]):
        assert strict_ok
    assert strict_ok == case["valid"]


@pytest.mark.parametrize(
    ("sampling", "words"),
    [
        ({"max_new_tokens": 8.0}, "args.sampling.max_new_tokens: expected an integer"),
        ({"temperature": float("nan")}, "args.sampling.temperature: expected a number"),
        ({"top_p": float("inf")}, "args.sampling.top_p: expected a number"),
    ],
)
def test_floats_the_strict_types_refuse_go_to_the_explaining_validator(sampling: dict, words: str) -> None:
    check = validator(SCHEMAS[Op.GENERATE].args)
    args = generate_args(**sampling)
    assert not check.surely_valid(args)
    error = first_error(check, args, "args")
    assert error is not None and error.message.startswith(words), error and error.message


def test_a_float_that_is_only_integral_is_still_a_valid_number() -> None:
    # temperature 1.0 from a non-TypeScript client: the slow path decides, and accepts it.
    check = validator(SCHEMAS[Op.GENERATE].args)
    args = generate_args(temperature=1.0)
    assert not check.surely_valid(args)
    assert first_error(check, args, "args") is None


def test_a_deeply_nested_value_does_not_overflow_the_float_scan() -> None:
    deep: object = 0.5
    for _ in range(5000):
        deep = [deep]
    check = validator(SCHEMAS[Op.GENERATE].args)
    assert first_error(check, generate_args(extra=deep), "args") is not None


def test_an_integer_beyond_64_bits_is_judged_by_the_explaining_validator() -> None:
    check = validator(SCHEMAS[Op.GENERATE].args)
    error = first_error(check, generate_args(seed=2**70), "args")
    assert error is not None and error.message.startswith("args.sampling.seed"), error and error.message
