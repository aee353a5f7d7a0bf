"""Partially synthetic releases (``--mode partial --replace COLUMN``): the real rows, with only the chosen columns
replaced by values the generator draws *conditioned on the row's kept columns*, and every direct identifier
replaced by a keyed pseudonym.

Columns of a partial release are of three kinds:

* **replaced**: the ``--replace`` columns and free-text columns: drawn from the model given the kept values;
* **pseudonymised**: direct identifiers (``pii`` and ``id`` columns): keyed pseudonyms
  (:mod:`synthgov.privacy.pseudonyms`), consistent within the release;
* **kept**: every other column, the real values as they are.

The manifest's ``partial`` section names the three sets and the method; its ``synthetic_category`` is
"partially synthetic".
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pandas as pd

from synthgov.errors import InputError

if TYPE_CHECKING:
    from synthgov.pipeline.run import ReleaseRun

logger = logging.getLogger(__name__)

MODES = ("full", "partial", "hybrid")
METHOD = (
    "each row keeps its real values in the kept columns; the replaced columns are drawn from the generator "
    "conditioned on that row's kept values; direct identifiers are HMAC-SHA256 pseudonyms under a key derived from "
    "the issuer's secret and the release id (the same value maps to the same pseudonym within the release)"
)


def check(run: ReleaseRun) -> None:
    """The mode and the replaced columns, before any work."""
    options = run.options
    if options.mode not in MODES:
        raise InputError(f"--mode must be one of {', '.join(MODES)}, got {options.mode!r}")
    if options.mode != "partial":
        if options.replace:
            raise InputError("--replace names the columns of a partially synthetic release: add --mode partial")
        return
    if run.table is None:
        raise InputError("--mode partial keeps real rows; a rules release has none")
    unknown = [c for c in options.replace if c not in run.table.columns]
    if unknown:
        raise InputError(f"--replace: unknown column(s) {', '.join(unknown)} (columns: {', '.join(run.table.columns)})")
    if not options.replace:
        raise InputError("--mode partial needs the columns to replace: --replace COLUMN (repeatable)")
    if len(set(options.replace)) == len(run.table.columns):
        raise InputError("--replace names every column: that is a fully synthetic release (leave out --mode partial)")
    if options.conditions is not None:
        raise InputError("--mode partial conditions every row on its own kept values; --condition cannot be added")
    if options.rows is not None and options.rows != len(run.table):
        raise InputError("--mode partial releases one row per real row; --rows cannot be set")


def columns(run: ReleaseRun) -> dict[str, list[str]]:
    schema = run.model.schema_
    direct = [c.name for c in schema.columns if c.kind in ("pii", "id")]
    chosen = set(run.options.replace)
    replaced = [c.name for c in schema.columns if c.name not in direct and (c.name in chosen or c.kind == "text")]
    kept = [c for c in schema.names if c not in direct and c not in replaced]
    return {"replaced": replaced, "pseudonymised": direct, "kept": kept}


def sample(run: ReleaseRun) -> dict[str, Any]:
    """The partial release's rows into ``run.data``; returns the manifest's ``partial`` section."""
    from synthgov.privacy.pseudonyms import pseudonymise, release_key
    from synthgov.release.keys import Keystore

    assert run.table is not None
    table = run.table.reset_index(drop=True)
    parts = columns(run)
    seed = run.options.seed if run.options.seed is not None else int(run.model.seed_)
    drawn = run.model.sample(len(table), seed=seed + 1, conditions=table[parts["kept"]] if parts["kept"] else None)
    data = pd.DataFrame(index=table.index)
    key = release_key(Keystore.default().ensure().watermark_secret(), run.release_id or "in-memory")
    schema = run.model.schema_
    for name in schema.names:
        if name in parts["kept"]:
            data[name] = table[name]  # the real values, exactly
        elif name in parts["pseudonymised"]:
            data[name] = pseudonymise(table[name], schema[name], key)
        else:
            data[name] = drawn[name]  # both frames are indexed 0..n-1
    run.data = data
    logger.info("partial release: replaced %s, pseudonymised %s", parts["replaced"], parts["pseudonymised"])
    return {**parts, "method": METHOD}
