"""Saving and loading fitted generators without pickle.

A model file is a zip archive holding ``model.json`` (format version, generator name, parameters, schema and
learned state, with every numpy array replaced by a reference) and ``arrays.npz`` (the arrays, read with
``allow_pickle=False``); neural generators add ``weights.safetensors``. Loading parses JSON and numeric
arrays only, so a file from an untrusted source cannot execute code.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from synthgov.errors import ModelFileError

FORMAT = "synthgov-model"
FORMAT_VERSION = 1
_REF = "__array__"


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
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
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
            body = json.loads(archive.read("model.json"))
            with np.load(io.BytesIO(archive.read("arrays.npz")), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            extra = {n: archive.read(n) for n in archive.namelist() if n not in ("model.json", "arrays.npz")}
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ModelFileError(f"{path} is not a synthgov model file ({exc})") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a synthgov model file")
    if body.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format version {body.get('format_version')}; this synthgov reads {FORMAT_VERSION}"
        )
    return _unpack(body, arrays), extra
