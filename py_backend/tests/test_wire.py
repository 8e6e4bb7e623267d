"""Wire format (Arrow IPC ⇄ torch) against the golden files both sides share.

Every `fixtures/golden/wire/<case>.json` envelope has two streams: `<case>.js.arrows` (written by
`src/backend/codec.ts`) and `<case>.py.arrows` (written by `wire.py`). This suite decodes BOTH and
checks dtype, shape and values against the envelope, and re-encodes the envelope on the Python
side byte for byte. `UPDATE_GOLDEN=1` rewrites the `.py.arrows` files (review the diff).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mgsd_backend import wire
from mgsd_backend.protocol import DTYPES
from mgsd_backend.server import check_header

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "golden" / "wire"
CASES = sorted(p.stem for p in GOLDEN.glob("*.json"))
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def envelope(case: str) -> dict:
    return json.loads((GOLDEN / f"{case}.json").read_text())


def to_value(dtype: str, value: object) -> object:
    if dtype == "float32" and isinstance(value, str):
        return float(value)  # "NaN", "Infinity", "-Infinity"
    if dtype == "int64":
        return int(value)  # decimal strings: JSON numbers cannot hold every int64
    return value


def tensors_of(env: dict) -> dict[str, torch.Tensor]:
    out = {}
    for name, spec in env["tensors"].items():
        values = [to_value(spec["dtype"], v) for v in spec["values"]]
        array = np.array(values, dtype=np.bool_ if spec["dtype"] == "bool" else spec["dtype"])
        out[name] = torch.from_numpy(array.reshape(spec["shape"]))
    return out


def assert_matches(decoded: dict[str, torch.Tensor], env: dict, where: str) -> None:
    assert list(decoded) == list(env["tensors"]), where
    for name, spec in env["tensors"].items():
        got = decoded[name]
        assert wire.DTYPE_NAMES[got.dtype] == spec["dtype"], f"{where}: {name} dtype"
        assert list(got.shape) == spec["shape"], f"{where}: {name} shape"
        expected = np.array([to_value(spec["dtype"], v) for v in spec["values"]]).astype(got.numpy().dtype)
        actual = got.numpy().reshape(-1)
        if spec["dtype"] == "float32":
            # Bit patterns: NaN equals NaN, and -0.0 differs from 0.0.
            assert actual.view(np.uint32).tolist() == expected.view(np.uint32).tolist(), f"{where}: {name} values"
        else:
            assert actual.tolist() == expected.tolist(), f"{where}: {name} values"


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("side", ["js", "py"])
def test_decodes_every_golden_file(case: str, side: str) -> None:
    path = GOLDEN / f"{case}.{side}.arrows"
    if not path.exists():
        pytest.fail(f"{path} is missing: run the {side} side's tests with UPDATE_GOLDEN=1")
    env = envelope(case)
    assert_matches(wire.decode([path.read_bytes()]), env, str(path))
    if "op" in env["header"]:
        check_header(env["header"])


@pytest.mark.parametrize("case", CASES)
def test_reencodes_its_own_golden_files_byte_for_byte(case: str) -> None:
    path = GOLDEN / f"{case}.py.arrows"
    encoded = b"".join(bytes(frame) for frame in wire.encode(tensors_of(envelope(case))))
    if UPDATE:
        path.write_bytes(encoded)
    assert encoded == path.read_bytes(), f"{path} differs from what wire.encode writes now"
    assert b"".join(bytes(f) for f in wire.encode(wire.decode([path.read_bytes()]))) == encoded


def test_decoding_views_large_aligned_frames_and_copies_small_ones() -> None:
    big = torch.arange(1 << 15, dtype=torch.float32).reshape(8, -1)
    frame = bytearray(bytes(wire.encode({"x": big})[0]))  # writable, like a zmq frame
    decoded = wire.decode([memoryview(frame)])["x"]
    assert torch.equal(decoded, big)
    start = np.frombuffer(frame, dtype=np.uint8).ctypes.data
    assert start <= decoded.data_ptr() < start + len(frame), "a large aligned array should view the frame"
    small_frame = bytearray(bytes(wire.encode({"y": torch.ones(2, 2)})[0]))
    small = wire.decode([memoryview(small_frame)])["y"]
    small_start = np.frombuffer(small_frame, dtype=np.uint8).ctypes.data
    assert not small_start <= small.data_ptr() < small_start + len(small_frame), "a small array should be copied"
    assert torch.equal(small, torch.ones(2, 2))
    read_only = wire.decode([bytes(frame)])["x"]
    assert torch.equal(read_only, big)  # read-only input is copied, so torch may write to it
    read_only.add_(1)


def test_several_frames_form_one_stream() -> None:
    data = bytes(wire.encode({"x": torch.arange(10)})[0])
    parts = [data[:5], data[5:100], data[100:]]
    assert torch.equal(wire.decode(parts)["x"], torch.arange(10))


def _stream(batch: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _list(values: list, size: int, value_type: pa.DataType = pa.float32()) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(pa.array(values, type=value_type), size)


@pytest.mark.parametrize(
    ("batch", "needle"),
    [
        (pa.record_batch([_list([1.0, 2.0], 2)], names=["plain"]), "not an arrow.fixed_shape_tensor"),
        (
            pa.record_batch(
                [pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(pa.float64(), [2]), _list([1.0, 2.0], 2, pa.float64()))],
                names=["f64"],
            ),
            "element type double",
        ),
        (
            pa.record_batch(
                [pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(pa.float32(), [2]), _list([1.0, None], 2))], names=["holes"]
            ),
            "holds nulls",
        ),
        (
            pa.record_batch(
                [pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(pa.float32(), [1, 2], permutation=[1, 0]), _list([1.0, 2.0], 2))],
                names=["perm"],
            ),
            "permutation/dim_names",
        ),
    ],
)
def test_off_spec_columns_are_clear_errors(batch: pa.RecordBatch, needle: str) -> None:
    with pytest.raises(wire.WireError, match=needle) as caught:
        wire.decode([_stream(batch)])
    assert caught.value.code == "bad_request"


def test_two_batches_and_garbage_are_refused() -> None:
    batch = pa.record_batch([pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(pa.int64(), []), _list([1], 1, pa.int64()))], names=["a"])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
        writer.write_batch(batch)
    with pytest.raises(wire.WireError, match="2 record batches; expected exactly 1"):
        wire.decode([sink.getvalue()])
    with pytest.raises(wire.WireError, match="not a valid Arrow IPC stream"):
        wire.decode([b"\xff\xff\xff\xff\x10\x00\x00\x00garbage!"])


def test_encode_refuses_what_the_wire_cannot_carry() -> None:
    with pytest.raises(ValueError, match="dtype torch.float64"):
        wire.encode({"x": torch.zeros(2, dtype=torch.float64)})
    with pytest.raises(ValueError, match="disagree on the batch size"):
        wire.encode({"a": torch.zeros(2), "b": torch.zeros(3)})
    with pytest.raises(ValueError, match="0-d"):
        wire.encode({"a": torch.tensor(1.0)})
    with pytest.raises(ValueError, match=r"per-row shape \[3, 0\]; per-row dimensions must be >= 1"):
        wire.encode({"a": torch.zeros(2, 3, 0)})


_shapes = st.tuples(st.integers(0, 4), st.lists(st.integers(1, 4), max_size=3)).map(lambda s: [s[0], *s[1]])


@settings(max_examples=60, deadline=None)
@given(dtype=st.sampled_from(sorted(DTYPES)), shape=_shapes, seed=st.integers(0, 2**31))
def test_round_trip_of_random_tensors(dtype: str, shape: list[int], seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    values = torch.randint(-1000, 1000, shape, generator=generator)
    original = (values > 0) if dtype == "bool" else (values % 256 if dtype == "uint8" else values).to(wire.DTYPES[dtype])
    if dtype == "float32":
        original = original / 7
    decoded = wire.decode(wire.encode({"t": original, "other": torch.zeros(shape[0], 1)}))["t"]
    assert decoded.dtype == original.dtype and decoded.shape == original.shape
    assert torch.equal(decoded, original), f"dtype {dtype} shape {shape}"
