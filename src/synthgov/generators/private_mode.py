"""The differentially private mode of a data-driven generator (``epsilon=``): ``bayesnet`` (PrivBayes) and
``autoregressive`` (DP-SGD). With ``epsilon`` set, fit, sample and the saved state go to the generator's private
implementation (``_fit_private``, ``_sample_private``, ``_private_state``, ``_set_private_state``); without it,
to the generator's own. Put it first among the bases: ``class X(PrivateMode, TabularSynthesizer)``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Self

import pandas as pd

from synthgov.errors import InputError
from synthgov.table.io import TableLike
from synthgov.table.schema import Schema

logger = logging.getLogger(__name__)


class PrivateMode:
    epsilon: float | None

    @property
    def is_private(self) -> bool:
        """Whether a fit with these parameters is differentially private."""
        return self.epsilon is not None

    def fit(self, table: TableLike, schema: Schema | str | Path | None = None) -> Self:
        if not self.is_private:
            return super().fit(table, schema)  # type: ignore[misc]
        return self._fit_or_forget(self._fit_private, table, schema)  # type: ignore[attr-defined]

    def sample(
        self,
        n: int,
        seed: int | None = None,
        conditions: Any = None,
        rebalance: dict[str, dict[Any, float]] | None = None,
    ) -> pd.DataFrame:
        if not hasattr(self, "private_"):
            return super().sample(n, seed=seed, conditions=conditions, rebalance=rebalance)  # type: ignore[misc]
        if rebalance:
            raise InputError("rebalance is not available in the private mode (it would need the exact shares)")
        return self._sample_private(n, seed, conditions)

    def _state(self) -> dict[str, Any]:
        return self._private_state() if hasattr(self, "private_") else super()._state()  # type: ignore[misc]

    def _set_state(self, state: dict[str, Any]) -> None:
        if "private" in state:
            self._set_private_state(state)
        else:
            super()._set_state(state)  # type: ignore[misc]

    # -- what a generator with a private mode implements -------------------------------------------------
    def _fit_private(self, table: TableLike, schema: Schema | str | Path | None) -> None:
        raise NotImplementedError

    def _sample_private(self, n: int, seed: int | None, conditions: Any) -> pd.DataFrame:
        raise NotImplementedError

    def _private_state(self) -> dict[str, Any]:
        raise NotImplementedError

    def _set_private_state(self, state: dict[str, Any]) -> None:
        raise NotImplementedError
