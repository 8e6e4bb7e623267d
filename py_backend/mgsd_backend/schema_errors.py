"""JSON Schema validation of wire arguments and results, with errors a person can act on.

`jsonschema` does the checking against the generated contract (`protocol.py`); this module only
turns its best error into one line that names the path, what was expected (rendered from the
failing subschema: `a number in (0, 1]`, `"tiny" | "hf"`, `true or false`) and what was
received, e.g. `args.sampling.top_p: expected a number in (0, 1], got "high" (string)`.
For unions it picks the branch the value meant (by the discriminating `const` key, else the
branch whose keys fit best) and explains that branch's error. The op name is put in front by
the caller. Values are never modified or filled in: defaults belong to the TypeScript config.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import relevance

from .errors import RequestError
from .schema_check import SchemaCheck, compile_check

_SAFE_MAX = 2**53 - 1
_MISSING_HINT = "Every required argument must be sent explicitly; docs/protocol.md lists them."
_UNKNOWN_HINT = "Remove the key or fix its spelling; docs/protocol.md lists each op's arguments."


def _is_integer(_: Any, value: Any) -> bool:
    # JSON has one number type; 1.0 is still not an integer argument, and a bool is not a number.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(_: Any, value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_TYPES = Draft202012Validator.TYPE_CHECKER.redefine_many({"integer": _is_integer, "number": _is_number})
WireValidator = validators.extend(Draft202012Validator, type_checker=_TYPES)
"""Draft 2020-12 with strict integers and finite numbers (Python's json accepts NaN)."""


def validator(schema: Mapping[str, Any]) -> SchemaCheck:
    """The check of one schema of the contract (`schema_check.py`: a compiled verdict, then
    jsonschema for anything doubtful). The schemas are not re-checked against the metaschema
    here (a quarter second at every worker start): `test_protocol.py` checks them."""
    return compile_check(schema, WireValidator(schema))


def first_error(check: SchemaCheck, value: Any, root: str) -> RequestError | None:
    """The most useful violation of `value` (named `root`, e.g. `args`) as a RequestError, or None."""
    if check.surely_valid(value):
        return None
    errors = list(check.explain.iter_errors(value))
    if not errors:
        return None
    return _explain(max(errors, key=_priority), root, check.schema, None)


def _priority(error: ValidationError) -> tuple[Any, ...]:
    # jsonschema's relevance (shallowest first), then unknown keys before missing ones: a
    # misspelt key shows up as both, and naming the misspelling is what helps.
    return (*relevance(error), error.validator == "additionalProperties")


# ---- rendering ----------------------------------------------------------------------------------
def describe(value: Any) -> str:
    """A short rendering of a received value with its JSON type."""
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


def expected(schema: Mapping[str, Any] | bool) -> str:
    """What a subschema accepts, in words."""
    if schema is False:
        return "nothing (no such item)"
    if not isinstance(schema, Mapping):
        return "a value"
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        tag = _tag(branches)
        if tag is not None:
            return f"an object with {tag} " + " | ".join(json.dumps(b["properties"][tag]["const"]) for b in branches)
        return " or ".join(expected(b) for b in branches)
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(expected({**schema, "type": k}) for k in kind)
    if kind in ("integer", "number"):
        return _number(schema, kind)
    if kind == "string":
        return "a non-empty string" if schema.get("minLength", 0) >= 1 else "a string"
    if kind == "array":
        low, high = schema.get("minItems"), schema.get("maxItems")
        if low is not None and low == high:
            return f"an array of exactly {low} items"
        return f"an array of at least {low} item(s)" if low else "an array"
    return {"boolean": "true or false", "object": "an object", "null": "null"}.get(kind, "a value")


def _number(schema: Mapping[str, Any], kind: str) -> str:
    noun = "an integer" if kind == "integer" else "a number"
    low, low_open = schema.get("minimum"), False
    if "exclusiveMinimum" in schema:
        low, low_open = schema["exclusiveMinimum"], True
    high, high_open = schema.get("maximum"), False
    if "exclusiveMaximum" in schema:
        high, high_open = schema["exclusiveMaximum"], True
    if high is not None and high >= _SAFE_MAX:  # zod's int() bounds carry no information
        high = None
    if low is not None and low <= -_SAFE_MAX:
        low = None
    if kind == "integer":  # integers read better with closed bounds: > 0 is >= 1
        low, low_open = (low + 1 if low_open else low), False
        high, high_open = (high - 1 if high_open and high is not None else high), False
    if low is None and high is None:
        return noun
    if high is None:
        return f"{noun} {'>' if low_open else '>='} {low}"
    if low is None:
        return f"{noun} {'<' if high_open else '<='} {high}"
    return f"{noun} in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def _tag(branches: Sequence[Any]) -> str | None:
    """The key every branch fixes with a `const` (a discriminated union's tag), if any."""
    if not all(isinstance(b, Mapping) and isinstance(b.get("properties"), Mapping) for b in branches):
        return None
    common = set.intersection(*(set(b["properties"]) for b in branches))
    for key in sorted(common):
        if all("const" in b["properties"][key] for b in branches):
            return key
    return None


def _path(root: str, parts: Iterable[Any]) -> str:
    text = root
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


# ---- explaining one error -------------------------------------------------------------------------
def _explain(error: ValidationError, root: str, schema: Mapping[str, Any], context: str | None) -> RequestError:
    path = _path(root, error.absolute_path)
    instance, sub = error.instance, error.schema
    if error.validator in ("anyOf", "oneOf"):
        return _explain_union(error, root, schema, path)
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in instance]
        rule = _then_rule(schema, error)
        if rule is not None:
            return RequestError(f"{path}.{missing[0]}: missing ({rule})", _MISSING_HINT)
        if len(missing) == 1:
            want = expected(sub.get("properties", {}).get(missing[0], {}))
            return RequestError(f"{path}.{missing[0]}: missing (expected {want})", _MISSING_HINT)
        whose = f" (required by {context})" if context else ""
        return RequestError(f"{path}: missing {', '.join(missing)}{whose}", _MISSING_HINT)
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        known = list(sub.get("properties", {}))
        unknown = sorted(set(instance) - set(known))
        whose = f" of {context}" if context else ""
        return RequestError(
            f"{path}: unknown key(s) {', '.join(unknown)} (known keys{whose}: {', '.join(known) or 'none'})", _UNKNOWN_HINT
        )
    rule = _then_rule(schema, error)
    if rule is not None:
        return RequestError(f"{path}: expected a value, got {describe(instance)} ({rule})")
    return RequestError(f"{path}: expected {expected(sub)}, got {describe(instance)}")


def _explain_union(error: ValidationError, root: str, schema: Mapping[str, Any], path: str) -> RequestError:
    branches = error.validator_value
    instance = error.instance
    by_branch: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    tag = _tag(branches)
    if tag is not None and isinstance(instance, Mapping):
        values = [b["properties"][tag]["const"] for b in branches]
        if instance.get(tag) not in values:
            want = " | ".join(json.dumps(v) for v in values)
            if tag not in instance:
                return RequestError(f"{path}.{tag}: missing (expected {want})", _MISSING_HINT)
            return RequestError(f"{path}.{tag}: expected {want}, got {describe(instance[tag])}")
        chosen = values.index(instance[tag])
    else:
        fitting = [i for i, b in enumerate(branches) if _type_fits(b, instance) and b.get("type") != "null"]
        if not fitting:
            return RequestError(f"{path}: expected {expected(error.schema)}, got {describe(instance)}")
        chosen = min(fitting, key=lambda i: (_unknown_keys(branches[i], instance), len(by_branch.get(i, ()))))
        branch = branches[chosen]
        if branch.get("type") not in ("object", "array"):  # a scalar: say the whole union (e.g. "… or null")
            return RequestError(f"{path}: expected {expected(error.schema)}, got {describe(instance)}")
    inner = by_branch.get(chosen)
    if not inner:
        return RequestError(f"{path}: expected {expected(error.schema)}, got {describe(instance)}")
    return _explain(max(inner, key=_priority), root, schema, branches[chosen].get("description"))


def _type_fits(branch: Mapping[str, Any], instance: Any) -> bool:
    kind = branch.get("type")
    if kind is None:
        return True
    kinds = kind if isinstance(kind, list) else [kind]
    return any(WireValidator.TYPE_CHECKER.is_type(instance, k) for k in kinds)


def _unknown_keys(branch: Mapping[str, Any], instance: Any) -> int:
    if not isinstance(instance, Mapping):
        return 0
    return len(set(instance) - set(branch.get("properties", {})))


def _then_rule(schema: Mapping[str, Any], error: ValidationError) -> str | None:
    """The description of the `then` a violation comes from (a cross-field rule), if any."""
    node: Any = schema
    rule = None
    for part in error.absolute_schema_path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return rule
        if part == "then" and isinstance(node, Mapping):
            rule = node.get("description", rule)
    return rule
