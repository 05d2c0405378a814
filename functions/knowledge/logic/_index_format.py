"""The byte layout of an index artifact: named numpy arrays and byte strings laid end to end,
each 64-byte aligned, described by a table of contents that goes into the manifest.

Loading is `np.frombuffer` over the downloaded bytes: no parsing, no copy, so the time to
load is the time to fetch. (bm25s' own save format is a directory of .npy files plus a JSON
vocabulary: several S3 objects, and a JSON parse of the vocabulary on every load.)"""

from __future__ import annotations

from typing import Any

import numpy as np

ALIGN = 64


def pack(sections: dict[str, np.ndarray | bytes]) -> tuple[bytes, dict[str, Any]]:
    """(blob, table of contents). Arrays are stored little-endian and C-contiguous."""
    parts: list[bytes] = []
    toc: dict[str, Any] = {}
    offset = 0
    for name in sorted(sections):  # sorted: the same sections give the same bytes
        value = sections[name]
        if isinstance(value, bytes):
            raw = value
            toc[name] = {"offset": offset, "bytes": len(raw), "dtype": "bytes"}
        else:
            array = np.ascontiguousarray(value)
            dtype = array.dtype.newbyteorder("<")
            raw = array.astype(dtype, copy=False).tobytes()
            toc[name] = {
                "offset": offset,
                "bytes": len(raw),
                "dtype": dtype.str,
                "shape": list(array.shape),
            }
        parts.append(raw)
        pad = (-len(raw)) % ALIGN
        parts.append(b"\0" * pad)
        offset += len(raw) + pad
    return b"".join(parts), toc


def unpack(blob: bytes | memoryview, toc: dict[str, Any]) -> dict[str, Any]:
    """Zero-copy views into `blob`: numpy arrays (read-only) and memoryviews for bytes."""
    view = memoryview(blob)
    out: dict[str, Any] = {}
    for name, entry in toc.items():
        start, size = int(entry["offset"]), int(entry["bytes"])
        if start + size > len(view):
            raise ValueError(f"index section {name!r} runs past the end of the artifact")
        if entry["dtype"] == "bytes":
            out[name] = view[start : start + size]
            continue
        dtype = np.dtype(entry["dtype"])
        shape = tuple(entry["shape"])
        count = int(np.prod(shape)) if shape else 1
        out[name] = np.frombuffer(view, dtype=dtype, count=count, offset=start).reshape(shape)
    return out
