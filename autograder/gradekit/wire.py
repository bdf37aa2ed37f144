"""The message format between the trusted grader and the untrusted worker.

A frame is ``[u32 header length][header JSON][binary blobs...]``. Values are encoded as JSON
with numpy arrays moved to blobs. Decoding builds only plain data: ``None``, ``bool``, ``int``,
``float``, ``complex``, ``str``, ``list``, ``tuple``, ``dict``, numpy arrays and scalars of
numeric dtypes, and ``Ref`` handles for everything else. Nothing is unpickled, so a hostile
worker can send wrong values but never code, and values that claim to "equal anything" arrive
as opaque handles that equal nothing.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

MAX_FRAME_BYTES = 512 * 2**20
MAX_DEPTH = 32
MAX_ITEMS = 100_000
_ALLOWED_DTYPES = {np.dtype(t).str for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float16, np.float32, np.float64, np.complex64, np.complex128)}


class WireError(Exception):
    """A malformed, oversized or truncated frame."""


@dataclass(frozen=True)
class Ref:
    """A handle to an object that lives in the worker (id in its table, its type's name)."""

    id: int
    type_name: str = "object"


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------


def encode(value: Any, blobs: list[bytes], to_ref: Callable[[Any], Any] | None = None,
           depth: int = 0) -> Any:
    """JSON-able form of ``value``; arrays go to ``blobs``; other objects go through ``to_ref``."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if value is None or type(value) in (bool, str):
        return value
    if type(value) is int:
        return value if abs(value) < 2**62 else {"$bigint": str(value)}
    if type(value) is float:
        return {"$float": repr(value)}
    if type(value) is complex:
        return {"$complex": [repr(value.real), repr(value.imag)]}
    if isinstance(value, np.ndarray) and value.dtype.str in _ALLOWED_DTYPES:
        arr = np.ascontiguousarray(np.asarray(value).view(np.ndarray))
        blobs.append(arr.tobytes())
        return {"$nd": len(blobs) - 1, "dtype": arr.dtype.str, "shape": list(arr.shape),
                "subclass": None if type(value) is np.ndarray else type(value).__name__}
    if isinstance(value, np.generic) and np.dtype(type(value)).str in _ALLOWED_DTYPES \
            and type(value).__module__ == "numpy":
        arr = np.asarray(value)
        blobs.append(arr.tobytes())
        return {"$scalar": len(blobs) - 1, "dtype": arr.dtype.str}
    if type(value) in (list, tuple):
        if len(value) > MAX_ITEMS:
            raise WireError("sequence too long")
        items = [encode(v, blobs, to_ref, depth + 1) for v in value]
        return items if type(value) is list else {"$tuple": items}
    if type(value) is dict and all(type(k) is str for k in value):
        if len(value) > MAX_ITEMS:
            raise WireError("dict too large")
        return {"$dict": [[k, encode(v, blobs, to_ref, depth + 1)] for k, v in value.items()]}
    if type(value) is slice:
        return {"$slice": [encode(v, blobs, to_ref, depth + 1)
                           for v in (value.start, value.stop, value.step)]}
    if type(value) is Ref:
        return {"$ref": value.id, "type": value.type_name}
    if to_ref is None:
        raise WireError(f"cannot send a {type(value).__name__}")
    return to_ref(value)


def decode(node: Any, blobs: list[bytes], from_ref: Callable[[int, str], Any] | None = None,
           extra: Callable[[dict], Any] | None = None, depth: int = 0) -> Any:
    """Rebuild a value encoded by ``encode``; unknown shapes raise ``WireError``."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if node is None or type(node) in (bool, str, int):
        return node
    if type(node) is list:
        return [decode(v, blobs, from_ref, extra, depth + 1) for v in node]
    if type(node) is not dict or len(node) == 0:
        raise WireError("malformed value")
    if "$float" in node:
        return float(node["$float"])
    if "$bigint" in node:
        return int(node["$bigint"])
    if "$complex" in node:
        return complex(float(node["$complex"][0]), float(node["$complex"][1]))
    if "$nd" in node or "$scalar" in node:
        dtype = node.get("dtype")
        if dtype not in _ALLOWED_DTYPES:
            raise WireError(f"dtype {dtype!r} not allowed")
        blob = blobs[int(node.get("$nd", node.get("$scalar")))]
        if "$scalar" in node:
            arr = np.frombuffer(blob, dtype=np.dtype(dtype))
            if arr.size != 1:
                raise WireError("bad scalar")
            return arr[0]
        shape = tuple(int(s) for s in node["shape"])
        if any(s < 0 for s in shape):
            raise WireError("bad shape")
        arr = np.frombuffer(blob, dtype=np.dtype(dtype))
        if arr.size != int(np.prod(shape, dtype=np.int64)):
            raise WireError("array size does not match its shape")
        return arr.reshape(shape).copy()
    if "$tuple" in node:
        return tuple(decode(v, blobs, from_ref, extra, depth + 1) for v in node["$tuple"])
    if "$dict" in node:
        return {str(k): decode(v, blobs, from_ref, extra, depth + 1) for k, v in node["$dict"]}
    if "$slice" in node:
        return slice(*(decode(v, blobs, from_ref, extra, depth + 1) for v in node["$slice"]))
    if "$ref" in node and from_ref is not None:
        return from_ref(int(node["$ref"]), str(node.get("type", "object"))[:200])
    if extra is not None:
        return extra(node)
    raise WireError("unknown value tag")


# ---------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------


def pack(message: dict, blobs: list[bytes]) -> bytes:
    header = dict(message, blobs=[len(b) for b in blobs])
    head = json.dumps(header, allow_nan=False, separators=(",", ":")).encode()
    body = b"".join([struct.pack(">I", len(head)), head, *blobs])
    return struct.pack(">Q", len(body)) + body


def unpack(body: bytes) -> tuple[dict, list[bytes]]:
    if len(body) < 4:
        raise WireError("truncated frame")
    (head_len,) = struct.unpack(">I", body[:4])
    try:
        header = json.loads(body[4:4 + head_len])
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise WireError(f"bad header: {type(exc).__name__}") from None
    if type(header) is not dict or type(header.get("blobs")) is not list:
        raise WireError("bad header")
    blobs, offset = [], 4 + head_len
    for size in header.pop("blobs"):
        if type(size) is not int or size < 0 or offset + size > len(body):
            raise WireError("blob sizes do not match the frame")
        blobs.append(body[offset:offset + size])
        offset += size
    return header, blobs


def write_frame(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, n: int, wait: Callable[[], None] | None = None) -> bytes:
    chunks, remaining = [], n
    while remaining:
        if wait is not None:
            wait()
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("peer closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, wait: Callable[[], None] | None = None) -> bytes:
    (size,) = struct.unpack(">Q", read_exact(fd, 8, wait))
    if size > MAX_FRAME_BYTES:
        raise WireError(f"frame of {size} bytes is over the limit")
    return read_exact(fd, size, wait)
