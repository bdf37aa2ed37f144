"""The message format between the trusted grader and the untrusted worker.

A frame is ``[u32 header length][header JSON][binary blobs...]``. Values are encoded as JSON
with numpy arrays moved to blobs. Decoding builds only plain data: ``None``, ``bool``, ``int``,
``float``, ``complex``, ``str``, ``list``, ``tuple``, ``dict``, numpy arrays and scalars of
numeric dtypes, and ``Ref`` handles for everything else. Nothing is unpickled, so a hostile
worker can send wrong values but never code, and values that claim to "equal anything" arrive
as opaque handles that equal nothing.

Reading a frame costs memory linear in its size with a small constant: the frame is read into
one buffer, the header's bytes and JSON values are counted before it is parsed, blobs are views
of the frame, and each blob becomes at most one array (a header naming one blob many times is
refused instead of copied many times), so what decoding builds is at most the frame's blobs
plus ``MAX_NODES`` small objects.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

MAX_FRAME_BYTES = 512 * 2**20
MAX_HEADER_BYTES = 16 * 2**20
MAX_NODES = 250_000        # JSON values in one header (about 200 bytes each once parsed)
MAX_DEPTH = 32
MAX_ITEMS = 100_000
MAX_NDIM = 32
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
        blobs.append(memoryview(arr.reshape(-1).view(np.uint8)))   # no copy: ``pack`` makes one
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
        blob = _take(blobs, node.get("$nd", node.get("$scalar")))
        if "$scalar" in node:
            arr = np.frombuffer(blob, dtype=np.dtype(dtype))
            if arr.size != 1:
                raise WireError("bad scalar")
            return arr[0]
        if type(node.get("shape")) is not list or len(node["shape"]) > MAX_NDIM:
            raise WireError("bad shape")
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


class Blobs(list):
    """The blobs of a received frame; each can be turned into a value once only."""

    def __init__(self, items):
        super().__init__(items)
        self.taken: set[int] = set()


def _take(blobs: list, index) -> Any:
    if type(index) is not int or not 0 <= index < len(blobs):
        raise WireError("bad blob index")
    if isinstance(blobs, Blobs):
        if index in blobs.taken:
            raise WireError("one blob referenced twice")
        blobs.taken.add(index)
    return blobs[index]


# ---------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------


def count_json_values(text: bytes) -> int:
    """An upper bound on the number of values and keys JSON ``text`` holds, found in one pass
    without parsing it: every value is the first in its container or follows a comma or a colon
    (those inside strings are counted too, which only overestimates)."""
    return sum(text.count(c) for c in (b",", b":", b"[", b"{")) + 1


def pack(message: dict, blobs: list) -> bytes:
    """The frame: its length, then the body ``[u32 header length][header][blobs...]``, joined
    once (the blobs are copied once, not twice)."""
    header = dict(message, blobs=[len(b) for b in blobs])
    head = json.dumps(header, allow_nan=False, separators=(",", ":")).encode()
    size = 4 + len(head) + sum(len(b) for b in blobs)
    return b"".join([struct.pack(">QI", size, len(head)), head, *blobs])


def unpack(body: bytes | bytearray) -> tuple[dict, Blobs]:
    """The header and the blobs (views of ``body``) of a frame, counted before anything is
    built: a header over ``MAX_HEADER_BYTES`` or ``MAX_NODES`` values is refused unparsed."""
    if len(body) < 4:
        raise WireError("truncated frame")
    (head_len,) = struct.unpack(">I", body[:4])
    if head_len > MAX_HEADER_BYTES or 4 + head_len > len(body):
        raise WireError(f"header of {head_len} bytes is over the limit or the frame")
    view = memoryview(body)
    head = bytes(view[4:4 + head_len])
    if count_json_values(head) > MAX_NODES:
        raise WireError(f"header holds more than {MAX_NODES} values")
    try:
        header = json.loads(head)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise WireError(f"bad header: {type(exc).__name__}") from None
    if type(header) is not dict or type(header.get("blobs")) is not list:
        raise WireError("bad header")
    blobs, offset = [], 4 + head_len
    for size in header.pop("blobs"):
        if type(size) is not int or size < 0 or offset + size > len(body):
            raise WireError("blob sizes do not match the frame")
        blobs.append(view[offset:offset + size])
        offset += size
    return header, Blobs(blobs)


def write_frame(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, n: int, wait: Callable[[], None] | None = None) -> bytearray:
    """``n`` bytes read into one buffer (no chunks joined: the peak is the frame, once)."""
    buffer = bytearray(n)
    view, done = memoryview(buffer), 0
    while done < n:
        if wait is not None:
            wait()
        got = os.readv(fd, [view[done:done + (1 << 20)]])
        if not got:
            raise EOFError("peer closed the channel")
        done += got
    return buffer


def read_frame(fd: int, wait: Callable[[], None] | None = None) -> bytearray:
    (size,) = struct.unpack(">Q", read_exact(fd, 8, wait))
    if size > MAX_FRAME_BYTES:
        raise WireError(f"frame of {size} bytes is over the limit")
    return read_exact(fd, size, wait)
