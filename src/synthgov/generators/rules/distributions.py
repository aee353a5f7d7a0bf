"""The distributions a rules spec can declare, each drawing whole columns at once.

A parameter is a number or an expression over columns generated earlier (``mean: "2000 + 50 * age"``), so a
column can depend on others row by row. Bounds (``min``/``max``) truncate continuous distributions exactly
(inverse CDF over the truncated range), so the declared law still holds inside the bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from scipy import special

from synthgov.constraints.expressions import Expression
from synthgov.errors import InputError
from synthgov.generators.patterns import Pattern
from synthgov.table import datetimes

Env = dict[str, np.ndarray]


@dataclass
class Param:
    """A number, a string literal, or an expression evaluated on the columns generated so far."""

    raw: Any
    expression: Expression | None = None

    def __post_init__(self) -> None:
        if isinstance(self.raw, str):
            self.expression = Expression(self.raw)

    @property
    def columns(self) -> list[str]:
        return self.expression.columns if self.expression else []

    def number(self, env: Env, n: int, what: str) -> np.ndarray:
        if self.expression is None:
            if isinstance(self.raw, bool) or not isinstance(self.raw, (int, float)):
                raise InputError(f"{what} must be a number or an expression, got {self.raw!r}")
            return np.full(n, float(self.raw))
        return np.broadcast_to(np.asarray(self.expression.evaluate(env, n), dtype=np.float64), (n,))

    def timestamp(self, env: Env, n: int) -> np.ndarray:
        """Microseconds since the epoch, from a fixed date or an expression over datetime columns."""
        if self.expression is None:
            return np.full(n, float(self.raw))
        value = np.asarray(self.expression.evaluate(env, n))
        if value.dtype.kind == "M":
            us = value.astype("datetime64[us]")
            return np.where(np.isnat(us), np.nan, us.astype(np.int64).astype(np.float64))
        return np.broadcast_to(value.astype(np.float64), (n,))


def _series(values: list[Any]) -> Any:
    import pandas as pd

    return pd.Series(values, dtype=object)


@dataclass
class Distribution:
    """Base: ``sample(n, rng, env)`` returns ``n`` values; ``output`` names the column's kind."""

    options: dict[str, Any]
    params: dict[str, Param] = field(default_factory=dict)
    output: ClassVar[str] = "numeric"
    required: ClassVar[tuple[str, ...]] = ()
    optional: ClassVar[tuple[str, ...]] = ()
    numeric_params: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        kind = self.options.get("type")
        allowed = {"type", *self.required, *self.optional}
        unknown = sorted(set(self.options) - allowed)
        if unknown:
            raise InputError(
                f"distribution '{kind}' has unknown option(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        missing = [k for k in self.required if k not in self.options]
        if missing:
            raise InputError(f"distribution '{kind}' needs {', '.join(missing)}")
        for key in self.numeric_params:
            if key in self.options and self.options[key] is not None:
                self.params[key] = Param(self.options[key])
        self.check()

    def check(self) -> None:
        return None

    @property
    def columns(self) -> list[str]:
        return sorted({c for p in self.params.values() for c in p.columns})

    def sample(self, n: int, rng: np.random.Generator, env: Env) -> np.ndarray:
        raise NotImplementedError

    def p(self, name: str, env: Env, n: int, default: float | None = None) -> np.ndarray:
        if name not in self.params:
            if default is None:
                raise InputError(f"distribution '{self.options['type']}' needs {name}")
            return np.full(n, default)
        return self.params[name].number(env, n, f"{self.options['type']}.{name}")

    def _finish(self, x: np.ndarray) -> np.ndarray:
        digits = self.options.get("round")
        if digits is not None:
            x = np.round(x, int(digits))
        return x


class _Truncatable(Distribution):
    optional = ("min", "max", "round")

    def _bounds(self, env: Env, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self.p("min", env, n, -np.inf), self.p("max", env, n, np.inf)


class Normal(_Truncatable):
    required = ("mean", "sd")
    numeric_params = ("mean", "sd", "min", "max")

    def sample(self, n: int, rng: np.random.Generator, env: Env) -> np.ndarray:
        mean, sd = self.p("mean", env, n), self.p("sd", env, n)
        if np.any(sd <= 0):
            raise InputError("normal: sd must be positive")
        lo, hi = self._bounds(env, n)
        u = _truncated_uniform(rng, n, special.ndtr((lo - mean) / sd), special.ndtr((hi - mean) / sd))
        return self._finish(mean + sd * special.ndtri(u))


class LogNormal(_Truncatable):
    required = ("mu", "sigma")
    numeric_params = ("mu", "sigma", "min", "max")

    def sample(self, n: int, rng: np.random.Generator, env: Env) -> np.ndarray:
        mu, sigma = self.p("mu", env, n), self.p("sigma", env, n)
        if np.any(sigma <= 0):
            raise InputError("lognormal: sigma must be positive")
        lo, hi = self._bounds(env, n)
        with np.errstate(divide="ignore"):
            a = special.ndtr((np.log(np.maximum(lo, 0)) - mu) / sigma)
            b = special.ndtr((np.log(np.maximum(hi, 0)) - mu) / sigma)
        u = _truncated_uniform(rng, n, a, b)
        return self._finish(np.exp(mu + sigma * special.ndtri(u)))


class Uniform(Distribution):
    required = ("low", "high")
    optional = ("round",)
    numeric_params = ("low", "high")

    def sample(self, n: int, rng: np.random.Generator, env: Env) -> np.ndarray:
        low, high = self.p("low", env, n), self.p("high", env, n)
        if np.any(high < low):
            raise InputError("uniform: high must be >= low")
        return self._finish(low + rng.random(n) * (high - low))


class Integer(Distribution):
    required = ("low", "high")
    numeric_params = ("low", "high")

    def sample(self, n: int, rng: np.random.Generator, env: Env) -> np.ndarray:
        low, high = np.ceil(self.p("low", env, n)), np.floor(self.p("high", env, n))
        if np.any(high < low):
            raise InputError("integer: high must be >= low")
        return np.floor(low + rng.random(n) * (high - low + 1))


class Poisson(Distribution):
    required = ("lam",)
    numeric_params = ("lam",)

    def sample(self, n: int, rng: np.random.Generator, env: Env) -> np.ndarray:
        lam = self.p("lam", env, n)
        if np.any(lam < 0):
            raise InputError("poisson: lam must be >= 0")
        return rng.poisson(lam).astype(np.float64)


class Categorical(Distribution):
    output = "categorical"
    optional = ("weights", "values")

    def check(self) -> None:
        weights = self.options.get("weights")
        values = self.options.get("values")
        if weights is None and values is None:
            raise InputError("categorical needs 'weights' (value: weight) or 'values' (a list)")
        if weights is not None:
            if not isinstance(weights, dict) or not weights:
                raise InputError("categorical: 'weights' must be a mapping of value -> weight")
            w = np.array(list(weights.values()), dtype=np.float64)
            if np.any(~np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
                raise InputError("categorical: weights must be non-negative numbers with a positive sum")
            self.values, self.probs = list(weights), w / w.sum()
        else:
            if not isinstance(values, list) or not values:
                raise InputError("categorical: 'values' must be a non-empty list")
            self.values, self.probs = list(values), np.full(len(values), 1 / len(values))

    def sample(self, n: int, rng: np.random.Generator, env: Env) -> np.ndarray:
        table = np.empty(len(self.values), dtype=object)
        table[:] = self.values
        return table[rng.choice(len(self.values), size=n, p=self.probs)]


class Bernoulli(Distribution):
    output = "boolean"
    required = ("p",)
    numeric_params = ("p",)

    def sample(self, n: int, rng: np.random.Generator, env: Env) -> np.ndarray:
        p = self.p("p", env, n)
        if np.any((p < 0) | (p > 1)):
            raise InputError("bernoulli: p must be within [0, 1]")
        return rng.random(n) < p


class DateTime(Distribution):
    output = "datetime"
    required = ("start", "end")
    optional = ("resolution",)

    def check(self) -> None:
        for key in ("start", "end"):
            raw = str(self.options[key]).strip()
            fixed = datetimes.to_microseconds(_series([raw]), None)[0]
            self.params[key] = Param(float(fixed)) if np.isfinite(fixed) else Param(raw)
        res = self.options.get("resolution", "D")
        if res not in datetimes.RESOLUTIONS:
            raise InputError(f"datetime: resolution must be one of {', '.join(datetimes.RESOLUTIONS)}")
        self.resolution = res

    def sample(self, n: int, rng: np.random.Generator, env: Env) -> np.ndarray:
        start, end = self.params["start"].timestamp(env, n), self.params["end"].timestamp(env, n)
        if np.any(end < start):
            raise InputError("datetime: end must not be before start")
        size = datetimes.RESOLUTIONS[self.resolution]
        lo, hi = np.ceil(start / size), np.floor(end / size)
        units = np.floor(lo + rng.random(n) * (hi - lo + 1))
        return (units * size).astype(np.int64).astype("datetime64[us]")


class Identifier(Distribution):
    output = "id"
    optional = ("pattern", "start")

    def check(self) -> None:
        if "pattern" in self.options:
            self.pattern = Pattern(str(self.options["pattern"]))
        elif not isinstance(self.options.get("start", 1), int):
            raise InputError("id: 'start' must be an integer")

    def sample(self, n: int, rng: np.random.Generator, env: Env) -> np.ndarray:
        if "pattern" in self.options:
            return self.pattern.sample_unique(n, rng).astype(object)
        start = int(self.options.get("start", 1))
        return np.arange(start, start + n, dtype=np.int64)


_FAKER_BLOCKED = {
    "seed",
    "seed_instance",
    "seed_locale",
    "add_provider",
    "get_providers",
    "set_arguments",
    "get_arguments",
    "del_arguments",
    "format",
    "parse",
    "provider",
    "binary",
    "zip",
    "tar",
    "image",
    "json",
    "csv",
    "tsv",
    "psv",
    "dsv",
    "xml",
    "fixed_width",
    "json_bytes",
}


class FakerValues(Distribution):
    output = "categorical"
    required = ("provider",)
    optional = ("locale", "pool")

    def check(self) -> None:
        from faker import Faker

        provider = str(self.options["provider"])
        self.locale = str(self.options.get("locale", "en_US"))
        try:
            fake = Faker(self.locale)
        except AttributeError:
            raise InputError(f"faker: unknown locale '{self.locale}'") from None
        if provider.startswith("_") or provider in _FAKER_BLOCKED or not callable(getattr(fake, provider, None)):
            raise InputError(f"faker: '{provider}' is not a Faker provider (e.g. name, email, city, address, company)")
        self.provider = provider
        self.pool_size = int(self.options.get("pool", 5000))

    def sample(self, n: int, rng: np.random.Generator, env: Env) -> np.ndarray:
        from faker import Faker

        fake = Faker(self.locale)
        fake.seed_instance(int(rng.integers(0, 2**31)))
        make = getattr(fake, self.provider)
        pool = np.empty(self.pool_size, dtype=object)
        pool[:] = [str(make()).replace("\n", ", ") for _ in range(self.pool_size)]
        return pool[rng.integers(0, self.pool_size, size=n)]


class Constant(Distribution):
    output = "categorical"
    required = ("value",)

    def sample(self, n: int, rng: np.random.Generator, env: Env) -> np.ndarray:
        value = self.options["value"]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return np.full(n, float(value))
        out = np.empty(n, dtype=object)
        out[:] = [value] * n
        return out


class Formula(Distribution):
    """A value computed from other columns: ``{type: formula, expr: "price * quantity", round: 2}``."""

    required = ("expr",)
    optional = ("round",)

    def check(self) -> None:
        self.params["expr"] = Param(str(self.options["expr"]))

    def sample(self, n: int, rng: np.random.Generator, env: Env) -> np.ndarray:
        value = np.asarray(self.params["expr"].expression.evaluate(env, n))  # type: ignore[union-attr]
        if value.dtype.kind in "fiub":
            return self._finish(value.astype(np.float64))
        return value


def _truncated_uniform(rng: np.random.Generator, n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.any(b <= a):
        raise InputError("min/max leave no probability mass for the distribution")
    return np.clip(a + rng.random(n) * (b - a), 1e-16, 1 - 1e-16)


KINDS: dict[str, type[Distribution]] = {
    "normal": Normal,
    "lognormal": LogNormal,
    "uniform": Uniform,
    "integer": Integer,
    "poisson": Poisson,
    "categorical": Categorical,
    "bernoulli": Bernoulli,
    "datetime": DateTime,
    "id": Identifier,
    "faker": FakerValues,
    "constant": Constant,
    "formula": Formula,
}


def make(options: Any, where: str) -> Distribution:
    if not isinstance(options, dict) or "type" not in options:
        raise InputError(f"{where}: expected a mapping with a 'type' ({', '.join(KINDS)})")
    kind = options["type"]
    if kind not in KINDS:
        raise InputError(f"{where}: unknown type '{kind}'; expected one of {', '.join(KINDS)}")
    try:
        return KINDS[kind](options=dict(options))
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
