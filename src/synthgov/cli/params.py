"""``--param KEY=VALUE``: any constructor parameter of a generator from the command line.

Values are read as YAML scalars (``50`` an int, ``0.1`` a float, ``true`` a bool, ``null`` None, anything else
text) and checked against the type of the parameter's default before any work starts, so ``--param epochs=ten``
is one clear line, not a failure minutes into a fit.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from synthgov.errors import InputError

logger = logging.getLogger(__name__)

OWN_FLAGS = {"seed": "--seed"}  # parameters that have a flag of their own


def parse_params(generator: str | None, items: list[str] | None) -> dict[str, Any] | None:
    """``["epochs=50", "patience=null"]`` for ``generator`` -> ``{"epochs": 50, "patience": None}``."""
    if not items:
        return None
    from synthgov.generators import registry

    cls = registry.get(generator or registry.DEFAULT_GENERATOR)
    name = generator or registry.DEFAULT_GENERATOR
    signature = inspect.signature(cls.__init__)
    known = {p.name: p for p in signature.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD}
    params: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"a generator parameter must look like KEY=VALUE, got {item!r}")
        if key in OWN_FLAGS:
            raise InputError(f"'{key}' has its own option: use {OWN_FLAGS[key]}")
        if key not in known:
            listed = ", ".join(k for k in known if k not in OWN_FLAGS) or "none"
            raise InputError(f"generator '{name}' has no parameter '{key}'; its parameters: {listed}")
        if key in params:
            raise InputError(f"--param {key} is given twice")
        value = _scalar(text)
        _check_type(name, key, value, known[key])
        params[key] = value
    logger.info("generator parameters from the command line: %s", params)
    return params


def _scalar(text: str) -> Any:
    import yaml

    try:
        value = yaml.safe_load(text) if text.strip() else text
    except Exception:  # yaml.YAMLError: not a YAML scalar, so it is text
        return text
    return value if isinstance(value, (str, int, float, bool, type(None))) else text


def _check_type(generator: str, key: str, value: Any, parameter: inspect.Parameter) -> None:
    """``value`` must be of the default's type (an int where a float is expected is fine; ``null`` where the
    annotation allows None; a parameter without a default or with None as default takes any value)."""
    default = parameter.default
    if default is inspect.Parameter.empty or default is None:
        return
    if value is None and "None" in str(parameter.annotation):
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        wanted = "true or false"
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        wanted = "an integer"
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        wanted = "a number"
    elif isinstance(default, str):
        ok = isinstance(value, str)
        wanted = "text"
    else:
        return
    if not ok:
        raise InputError(
            f"generator '{generator}': parameter '{key}' must be {wanted} (default {default!r}), got {value!r}"
        )


def with_privacy(
    generator: str | None, params: dict[str, Any] | None, epsilon: float | None, delta: float | None
) -> dict[str, Any] | None:
    """``--epsilon`` / ``--delta`` as the DP generator's parameters; one clear line for a generator without a DP
    mode or a value given twice."""
    if epsilon is None and delta is None:
        return params
    from synthgov.generators import registry

    name = generator or registry.DEFAULT_GENERATOR
    if not hasattr(registry.get(name), "budget_lines"):
        private = [g for g in registry.available() if hasattr(registry.get(g), "budget_lines")]
        raise InputError(
            f"generator '{name}' has no differentially private mode; --epsilon needs one of: {', '.join(private)}"
        )
    params = dict(params or {})
    for key, value in (("epsilon", epsilon), ("delta", delta)):
        if value is None:
            continue
        if key in params:
            raise InputError(f"{key} is given twice (--{key} and --param {key}=...)")
        params[key] = value
    return params
