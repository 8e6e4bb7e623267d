"""Arrow IPC ⇄ `dict[str, torch.Tensor]`: the tensor frames of a message (docs/protocol.md).

Conventions (mirrored by `src/backend/codec.ts`; golden files in `fixtures/golden/wire/` keep both
sides byte-honest):
- one Arrow IPC *stream* holding one record batch; rows are the batch dimension B shared by every
  tensor; one column per tensor;
- each column is Arrow's canonical `arrow.fixed_shape_tensor` extension over
  `FixedSizeList<T>[prod(shape)]`, the per-row shape in the extension metadata (`{"shape":[...]}`),
  a per-row scalar having shape `[]` and list size 1 (per-row dimensions are >= 1: Arrow has no
  empty fixed-size lists; the batch may be empty); columns are non-nullable;
- element types float32, int64, int32, uint8, bool (bit-packed, as Arrow stores booleans);
  little-endian; no nulls, no dictionaries, no compression.

Decoding is zero-copy for large arrays that are aligned and writable (tensors then view the
received frame, which they keep alive; a message of several frames is joined once first); small
arrays (< `SMALL_COPY_BYTES`), unaligned or read-only buffers are copied, so torch never sees
memory it must not own. Anything outside
the conventions raises `WireError` (code `bad_request`) saying what was found and what was expected.
Encoding makes exactly one copy: the tensors are written once into a buffer of the exact size.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from .errors import RequestError
from .protocol import DTYPE_NAMES, DTYPES

EXTENSION_NAME = "arrow.fixed_shape_tensor"
SMALL_COPY_BYTES = 1 << 16
"""Arrays smaller than this are copied out of the frame on decode (cheap, and frees the frame)."""

_ARROW_TYPES: Mapping[str, pa.DataType] = {
    "float32": pa.float32(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "uint8": pa.uint8(),
    "bool": pa.bool_(),
}
_NUMPY_TYPES: Mapping[str, np.dtype] = {
    name: np.dtype(dtype) for name, dtype in (("float32", "<f4"), ("int64", "<i8"), ("int32", "<i4"), ("uint8", "u1"))
}

if sys.byteorder != "little":  # pragma: no cover - every supported machine is little-endian
    raise ImportError("mgsd_backend.wire assumes a little-endian machine (the wire format is little-endian)")


class WireError(RequestError):
    """Tensor frames that do not follow the wire conventions."""

    code = "bad_request"


def encode(tensors: Mapping[str, torch.Tensor]) -> list[pa.Buffer]:
    """Tensors (each with the batch as dimension 0) → the tensor frames of a message ([] if none)."""
    if not tensors:
        return []
    rows = _common_rows(tensors)
    fields, columns = [], []
    for name, tensor in tensors.items():
        field, column = _encode_column(name, tensor, rows)
        fields.append(field)
        columns.append(column)
    schema = pa.schema(fields)
    batch = pa.RecordBatch.from_arrays(columns, schema=schema)
    mock = pa.MockOutputStream()
    _write_stream(mock, batch)
    out = pa.allocate_buffer(mock.size())
    _write_stream(pa.FixedSizeBufferWriter(out), batch)
    return [out]


def decode(frames: Sequence[Any]) -> dict[str, torch.Tensor]:
    """The tensor frames of a message (buffer-like objects, concatenated) → tensors by name."""
    if not frames:
        return {}
    source = memoryview(frames[0]) if len(frames) == 1 else _join(frames)
    data = pa.py_buffer(source)
    try:
        reader = pa.ipc.open_stream(data)
        batches = list(reader)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
        raise WireError(
            f"tensor frames are not a valid Arrow IPC stream ({len(data)} bytes): {error}",
            "Frames 1..n of a message must form ONE Arrow IPC stream (docs/protocol.md, Tensors).",
        ) from error
    if len(batches) != 1:
        raise WireError(f"tensor frames hold {len(batches)} record batches; expected exactly 1")
    batch = batches[0]
    frame = _Frame(source, data.address)
    return {field.name: _decode_column(field, batch.column(i), frame) for i, field in enumerate(batch.schema)}


def _join(frames: Sequence[Any]) -> memoryview:
    """Several frames → one writable buffer (pyarrow's pool: recycled, not zeroed), each copied once."""
    views = [memoryview(f).cast("B") for f in frames]
    joined = memoryview(pa.allocate_buffer(sum(len(v) for v in views))).cast("B")
    offset = 0
    for view in views:
        joined[offset : offset + len(view)] = view
        offset += len(view)
    return joined


class _Frame:
    """The received bytes, writable when the sender's frame is (pyzmq frames are). pyarrow hands
    out read-only slices; a view of the same bytes through `memory` can be given to torch as is."""

    def __init__(self, memory: memoryview, address: int) -> None:
        self.memory = None if memory.readonly else memory.cast("B")
        self.address = address

    def view(self, buffer: pa.Buffer, dtype: np.dtype, start: int, count: int) -> np.ndarray:
        offset = buffer.address - self.address + start * dtype.itemsize
        if self.memory is not None and 0 <= offset and offset + count * dtype.itemsize <= len(self.memory):
            return np.frombuffer(self.memory, dtype=dtype, count=count, offset=offset)
        return np.frombuffer(buffer, dtype=dtype, count=count, offset=start * dtype.itemsize)


def _common_rows(tensors: Mapping[str, torch.Tensor]) -> int:
    rows: dict[str, int] = {}
    for name, tensor in tensors.items():
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"wire.encode: {name!r} is a {type(tensor).__name__}, expected a torch.Tensor")
        if tensor.dim() == 0:
            raise ValueError(f"wire.encode: tensor {name!r} is 0-d; dimension 0 must be the batch (rows)")
        rows[name] = int(tensor.shape[0])
    if len(set(rows.values())) > 1:
        raise ValueError(f"wire.encode: tensors disagree on the batch size (dimension 0): {rows}")
    return next(iter(rows.values()))


def _encode_column(name: str, tensor: torch.Tensor, rows: int) -> tuple[pa.Field, pa.Array]:
    dtype = DTYPE_NAMES.get(tensor.dtype)
    if dtype is None:
        raise ValueError(f"wire.encode: tensor {name!r} has dtype {tensor.dtype}; the wire carries {', '.join(DTYPES)}")
    row_shape = [int(d) for d in tensor.shape[1:]]
    if 0 in row_shape:
        # NOTE: Arrow's FixedSizeList needs list_size >= 1; only the batch dimension may be 0.
        raise ValueError(f"wire.encode: tensor {name!r} has per-row shape {row_shape}; per-row dimensions must be >= 1")
    size = math.prod(row_shape)
    array = tensor.detach().to("cpu").contiguous().numpy().reshape(-1)
    if dtype == "bool":
        payload = pa.py_buffer(np.packbits(array, bitorder="little"))
    else:
        payload = pa.py_buffer(array)
    values = pa.Array.from_buffers(_ARROW_TYPES[dtype], rows * size, [None, payload])
    storage = pa.FixedSizeListArray.from_arrays(values, size)
    tensor_type = pa.fixed_shape_tensor(_ARROW_TYPES[dtype], row_shape)
    column = pa.ExtensionArray.from_storage(tensor_type, storage)
    return pa.field(name, tensor_type, nullable=False), column


_WRITE_OPTIONS = pa.ipc.IpcWriteOptions()  # explicit: skips pyarrow's per-call environment lookups


def _write_stream(sink: Any, batch: pa.RecordBatch) -> None:
    with pa.ipc.RecordBatchStreamWriter(sink, batch.schema, options=_WRITE_OPTIONS) as writer:
        writer.write_batch(batch)


def _decode_column(field: pa.Field, column: pa.Array, frame: _Frame) -> torch.Tensor:
    tensor_type = field.type
    if not isinstance(tensor_type, pa.FixedShapeTensorType):
        raise WireError(
            f"tensor {field.name}: column type {tensor_type} is not an {EXTENSION_NAME} "
            f"(field metadata {dict(field.metadata or {})})",
            "Every tensor column must be a FixedSizeList with the canonical fixed_shape_tensor extension metadata.",
        )
    if tensor_type.permutation is not None or tensor_type.dim_names is not None:
        raise WireError(f"tensor {field.name}: permutation/dim_names are not part of the wire format")
    dtype = next((k for k, v in _ARROW_TYPES.items() if v == tensor_type.value_type), None)
    if dtype is None:
        raise WireError(f"tensor {field.name}: element type {tensor_type.value_type}; expected one of {', '.join(DTYPES)}")
    storage = column.storage
    values = storage.values
    if storage.null_count or values.null_count:
        raise WireError(f"tensor {field.name}: holds nulls; the wire format has none")
    shape = [int(d) for d in tensor_type.shape]
    rows = len(storage)
    count = rows * math.prod(shape)
    start = values.offset + storage.offset * storage.type.list_size
    array = _numpy_values(values, dtype, start, count, frame)
    return _to_torch(array).reshape([rows, *shape])


def _numpy_values(values: pa.Array, dtype: str, start: int, count: int, frame: _Frame) -> np.ndarray:
    data = values.buffers()[1]
    if dtype == "bool":
        bits = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
        return np.unpackbits(bits, bitorder="little", count=start + count)[start:].astype(np.bool_)
    if data is None or count == 0:
        return np.zeros(0, dtype=_NUMPY_TYPES[dtype])
    return frame.view(data, _NUMPY_TYPES[dtype], start, count)


def _to_torch(array: np.ndarray) -> torch.Tensor:
    aligned = array.ctypes.data % array.dtype.itemsize == 0
    if array.nbytes < SMALL_COPY_BYTES or not aligned or not array.flags.writeable:
        array = array.copy()
    return torch.from_numpy(array)
