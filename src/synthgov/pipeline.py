"""One call from a table (or a rules spec) to a release folder: what ``synthgov generate`` runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from synthgov.errors import InputError
from synthgov.generators import registry
from synthgov.release.folder import Release, write_release
from synthgov.table.io import TableLike, read_table

SPEC_SUFFIXES = (".yaml", ".yml")


def is_rules_spec(source: Any) -> bool:
    return isinstance(source, (str, Path)) and str(source).lower().endswith(SPEC_SUFFIXES)


def generate(
    source: TableLike,
    *,
    generator: str | None = None,
    rows: int | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    csv: bool = False,
    schema: Any = None,
    conditions: Any = None,
    params: dict[str, Any] | None = None,
) -> Release:
    """Fit ``generator`` on ``source`` (a table, or a rules spec for ``rules``) and sample ``rows`` rows
    (default: as many as the input has). With ``out``, write the release folder there."""
    params = dict(params or {})
    if is_rules_spec(source):
        if generator not in (None, "rules"):
            raise InputError(f"{source} is a rules spec; it can only be used with the 'rules' generator")
        generator = "rules"
    name = generator or registry.DEFAULT_GENERATOR
    model = registry.synthesizer(name, seed=seed, **params)
    started = time.perf_counter()
    if name == "rules":
        model.fit(source)
        n_rows = rows or model.spec_.rows or 1000  # type: ignore[attr-defined]
    else:
        table = read_table(source)
        model.fit(table, schema)
        n_rows = rows or len(table)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    data = model.sample(n_rows, conditions=conditions)
    sample_seconds = time.perf_counter() - started
    release = Release(
        folder=Path(out) if out is not None else Path(),
        data=data,
        generator=name,
        seed=model.seed_,
        fit_seconds=fit_seconds,
        sample_seconds=sample_seconds,
    )
    if out is not None:
        release.files = write_release(data, out, schema=getattr(model, "schema_", None), csv=csv)
    release.model = model  # type: ignore[attr-defined]
    return release
