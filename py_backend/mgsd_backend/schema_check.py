"""One compiled check per schema of the contract: a fast verdict, and the validator that explains.

`jsonschema` walks a request in pure Python: a 64-view `generate` costs it tens of milliseconds,
paid on every request of a 1-thread worker. `jsonschema_rs` (Rust, the same Draft 2020-12) gives
the verdict in microseconds. Its verdict is trusted only when it is "valid" and the value holds no
float that our stricter types could refuse (`schema_errors.WireValidator`: an integer must be a
JSON integer, a number must be finite; JSON from the TypeScript client never carries either, as
`JSON.stringify` writes 1.0 as `1` and NaN as `null`). Anything else — a refusal, or such a
float — goes to `jsonschema`, which decides and words the error. So the fast path can only skip
work, never accept what the slow one refuses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs


@dataclass(frozen=True)
class SchemaCheck:
    """A schema's compiled verdict (`fast`) and its explaining validator (`explain`, jsonschema)."""

    fast: Any
    explain: Any

    @property
    def schema(self) -> Mapping[str, Any]:
        return self.explain.schema

    def surely_valid(self, value: Any) -> bool:
        """True when `value` is valid for certain; False means: ask `explain`."""
        if _has_doubtful_float(value):
            return False
        try:
            return bool(self.fast.is_valid(value))
        except Exception:  # noqa: BLE001 - a value the compiled side cannot convert: let jsonschema judge it
            return False


def compile_check(schema: Mapping[str, Any], explain: Any) -> SchemaCheck:
    """Compiles `schema` (Draft 2020-12) beside its explaining validator."""
    return SchemaCheck(fast=jsonschema_rs.Draft202012Validator(dict(schema)), explain=explain)


def _has_doubtful_float(value: Any) -> bool:
    # Iterative: a hostile request must not reach Python's recursion limit here.
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is float:
            if not math.isfinite(item) or item.is_integer():
                return True
        elif kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
    return False
