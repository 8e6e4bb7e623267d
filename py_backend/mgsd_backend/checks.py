"""Small declarative checkers for request arguments (the JSON `args` of a request header).

`protocol.py` builds one checker per op out of these pieces (and `validate.py` runs them); `check(value, path)` raises
`RequestError` (code `bad_request`) naming the argument's path, what was received and what was
expected, e.g. `args.sampling.top_p: expected a number in [0, 1], got "high" (str)`. The op name
is put in front by the caller. Checkers never modify or fill in values: defaults belong to the
TypeScript config schema, not to the wire.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import RequestError


def describe(value: Any) -> str:
    """A short rendering of a received value with its JSON type, for error messages."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({json_type(value)})"


def json_type(value: Any) -> str:
    """The JSON name of a Python value's type (`bool` before `int`: bool is an int subclass)."""
    if value is None:
        return "null"
    for kind, name in ((bool, "boolean"), ((int, float), "number"), (str, "string")):
        if isinstance(value, kind):
            return name
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def fail(path: str, expected: str, value: Any, hint: str | None = None) -> RequestError:
    """The error for `value` at `path` not being `expected`."""
    return RequestError(f"{path}: expected {expected}, got {describe(value)}", hint)


class Check:
    """Base of every checker: `check` raises RequestError or returns None."""

    expected = "a value"

    def check(self, value: Any, path: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class Str(Check):
    """A string of at least `min_length` characters."""

    min_length: int = 0
    expected: str = "a string"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or len(value) < self.min_length:
            wanted = "a non-empty string" if self.min_length else "a string"
            raise fail(path, wanted, value)


@dataclass
class Bool(Check):
    """true or false (never 0/1 or "True")."""

    expected: str = "a boolean"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            raise fail(path, "true or false", value)


@dataclass
class Int(Check):
    """An integer (not a boolean) within optional inclusive bounds."""

    low: int | None = None
    high: int | None = None

    @property
    def expected(self) -> str:  # type: ignore[override]
        return f"an integer{_range_text(self.low, self.high, True, True)}"

    def check(self, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(path, self.expected, value)
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise fail(path, self.expected, value)


@dataclass
class Num(Check):
    """A finite number; `low_open`/`high_open` make a bound exclusive."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        closed_low, closed_high = not self.low_open, not self.high_open
        return f"a number{_range_text(self.low, self.high, closed_low, closed_high)}"

    def check(self, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise fail(path, self.expected, value)
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if too_low or too_high:
            raise fail(path, self.expected, value)


@dataclass
class OneOf(Check):
    """One of a fixed set of strings."""

    values: tuple[str, ...]

    @property
    def expected(self) -> str:  # type: ignore[override]
        return " | ".join(json.dumps(v) for v in self.values)

    def check(self, value: Any, path: str) -> None:
        if value not in self.values:
            raise fail(path, self.expected, value)


@dataclass
class Nullable(Check):
    """`inner`, or null."""

    inner: Check

    @property
    def expected(self) -> str:  # type: ignore[override]
        return f"{self.inner.expected} or null"

    def check(self, value: Any, path: str) -> None:
        if value is not None:
            self.inner.check(value, path)


@dataclass
class ListOf(Check):
    """An array whose items all pass `item`, with an optional exact or minimum length."""

    item: Check
    min_length: int = 0
    length: int | None = None

    @property
    def expected(self) -> str:  # type: ignore[override]
        size = f" of {self.length}" if self.length is not None else ""
        return f"an array{size} of {self.item.expected}"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            raise fail(path, self.expected, value)
        if self.length is not None and len(value) != self.length:
            raise fail(path, f"an array of exactly {self.length} items", value)
        if len(value) < self.min_length:
            raise fail(path, f"an array of at least {self.min_length} item(s)", value)
        for i, item in enumerate(value):
            self.item.check(item, f"{path}[{i}]")


@dataclass
class Field:
    """One key of an `Obj`: its checker and whether it must be present."""

    check: Check
    required: bool = True


@dataclass
class Obj(Check):
    """A JSON object with known keys; unknown keys are errors (a typo is never ignored)."""

    fields: Mapping[str, Field]
    rules: Sequence[Callable[[Mapping[str, Any], str], None]] = field(default_factory=tuple)
    expected: str = "an object"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise fail(path, "an object", value)
        unknown = sorted(set(value) - set(self.fields))
        if unknown:
            known = ", ".join(self.fields) or "none"
            raise RequestError(
                f"{path}: unknown key(s) {', '.join(unknown)} (known keys: {known})",
                "Remove the key or fix its spelling; docs/protocol.md lists each op's arguments.",
            )
        for name, spec in self.fields.items():
            if name in value:
                spec.check.check(value[name], f"{path}.{name}")
            elif spec.required:
                raise RequestError(
                    f"{path}.{name}: missing (expected {spec.check.expected})",
                    "Every required argument must be sent explicitly; docs/protocol.md lists them.",
                )
        for rule in self.rules:
            rule(value, path)


@dataclass
class Tagged(Check):
    """An object whose `tag` key picks which `Obj` checks the rest (e.g. model `kind`)."""

    tag: str
    variants: Mapping[str, Obj]
    expected: str = "an object"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise fail(path, "an object", value)
        choice = value.get(self.tag)
        variant = self.variants.get(choice) if isinstance(choice, str) else None
        if variant is None:
            raise fail(f"{path}.{self.tag}", " | ".join(json.dumps(k) for k in self.variants), choice)
        variant.check(value, path)


def _range_text(low: float | None, high: float | None, closed_low: bool, closed_high: bool) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>=' if closed_low else '>'} {low}"
    if low is None:
        return f" {'<=' if closed_high else '<'} {high}"
    return f" in {'[' if closed_low else '('}{low}, {high}{']' if closed_high else ')'}"
