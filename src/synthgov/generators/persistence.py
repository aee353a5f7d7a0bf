"""Saving and loading fitted generators without pickle.

A model file is a zip archive holding ``model.json`` (format version, generator name, parameters, schema and
learned state, with every numpy array replaced by a reference) and ``arrays.npz`` (the arrays, read with
``allow_pickle=False``); neural generators add ``weights.safetensors``. Loading parses JSON and numeric
arrays only, so a file from an untrusted source cannot execute code, and it bounds what it unpacks before
unpacking it: at most :data:`MAX_MEMBERS` members, :data:`MAX_BYTES` uncompressed in all (the zip's and the
npz's declared sizes, which the zip reader enforces), every array's header checked against its member's size (an
``.npy`` header cannot claim more values than it holds), JSON nesting within the parser's limit, and every array
reference resolved (a dangling one is a :class:`ModelFileError`, not a ``KeyError``).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from synthgov.atomic import replacing
from synthgov.errors import ModelFileError

FORMAT = "synthgov-model"
FORMAT_VERSION = 1
_REF = "__array__"
MAX_MEMBERS = 65_536  # members of the model zip, and arrays of its npz (a wide table has thousands)
MAX_BYTES = int(os.environ.get("SYNTHGOV_MAX_MODEL_BYTES", 2 * 2**30))  # uncompressed, all members together


def _pack(value: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return [_pack(v, arrays, f"{path}/{i}") for i, v in enumerate(value.tolist())]
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {_REF: key}
    if isinstance(value, dict):
        return {str(k): _pack(v, arrays, f"{path}/{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_pack(v, arrays, f"{path}/{i}") for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return {"__float__": repr(value)}
    return value


def _unpack(value: Any, arrays: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_REF}:
            if not isinstance(value[_REF], str) or value[_REF] not in arrays:
                raise ModelFileError(f"the model refers to array {value[_REF]!r}, which its arrays.npz does not hold")
            return arrays[value[_REF]]
        if set(value) == {"__float__"}:
            return float(value["__float__"])
        return {k: _unpack(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v, arrays) for v in value]
    return value


def write_model(path: str | Path, document: dict[str, Any], extra_files: dict[str, bytes] | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    body = {"format": FORMAT, "format_version": FORMAT_VERSION, **_pack(document, arrays, "")}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    with replacing(path) as temporary, zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.json", json.dumps(body, indent=1, allow_nan=False))
        archive.writestr("arrays.npz", buffer.getvalue())
        for name, data in (extra_files or {}).items():
            archive.writestr(name, data)
    return path


def read_model(path: str | Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Return the model document (arrays restored) and any extra files of the archive."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            _check_sizes(archive, str(path))
            body = json.loads(archive.read("model.json"))
            raw = archive.read("arrays.npz")
            extra = {n: archive.read(n) for n in archive.namelist() if n not in ("model.json", "arrays.npz")}
        arrays = _read_arrays(raw, str(path))
    except (zipfile.BadZipFile, zlib.error, KeyError, ValueError, OSError, EOFError) as exc:
        raise ModelFileError(f"{path} is not a synthgov model file ({exc})") from None
    except RecursionError:
        raise ModelFileError(f"{path}: model.json is nested too deeply") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a synthgov model file")
    if body.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format version {body.get('format_version')}; this synthgov reads {FORMAT_VERSION}"
        )
    try:
        return _unpack(body, arrays), extra
    except RecursionError:
        raise ModelFileError(f"{path}: model.json is nested too deeply") from None


def _check_sizes(archive: zipfile.ZipFile, where: str) -> None:
    """Refuse an archive with too many members or too many declared bytes before reading any of them."""
    members = archive.infolist()
    total = sum(m.file_size for m in members)
    if len(members) > MAX_MEMBERS or total > MAX_BYTES:
        raise ModelFileError(
            f"{where}: {len(members)} members, {total:,} bytes uncompressed; a model file may hold at most "
            f"{MAX_MEMBERS:,} members and {MAX_BYTES:,} bytes (SYNTHGOV_MAX_MODEL_BYTES)"
        )


def _read_arrays(raw: bytes, where: str) -> dict[str, np.ndarray]:
    """The arrays of ``arrays.npz``, each header checked against the bytes its member really has."""
    from numpy.lib import format as npy

    arrays = {}
    with zipfile.ZipFile(io.BytesIO(raw)) as npz:
        _check_sizes(npz, f"{where} (arrays.npz)")
        for member in npz.infolist():
            with npz.open(member) as handle:
                version = npy.read_magic(handle)
                header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
                shape, _, dtype = header(handle, max_header_size=10_000)
                claimed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                if dtype.hasobject or claimed > member.file_size:
                    raise ModelFileError(
                        f"{where}: array {member.filename} claims {claimed:,} bytes in a {member.file_size:,}-byte "
                        "member (or holds Python objects)"
                    )
            with npz.open(member) as handle:
                arrays[member.filename.removesuffix(".npy")] = npy.read_array(handle, allow_pickle=False)
    return arrays
