"""Model collapse: a laboratory that runs generations of a generator on its own output (``laboratory``), the
metric card it records (``metrics``), closed forms it is checked against (``theory``), its HTML report
(``report``); the guard that keeps synthetic tables out of training is :mod:`synthgov.governance.guard`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["REGIMES", "CollapseResult", "GuardVerdict", "inspect_table", "run_collapse"]


def __getattr__(name: str) -> Any:  # lazy: pandas, scikit-learn and the generators load only when used
    if name in ("run_collapse", "CollapseResult"):
        from synthgov.collapse import laboratory

        return getattr(laboratory, name)
    if name == "REGIMES":
        from synthgov.collapse.regimes import REGIMES

        return REGIMES
    if name in ("inspect_table", "GuardVerdict"):
        from synthgov.governance import guard

        return getattr(guard, name)
    raise AttributeError(name)
