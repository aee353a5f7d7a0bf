"""What every neural generator shares: parameters (epochs, batch size, time budget, early stopping, device),
the encode -> train steps of ``fit``, seeded PyTorch, and saving the network as safetensors next to the JSON
state. A subclass builds its network (``_build_network``), trains it (``_train``) and samples
(``_sample_uniforms``)."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.errors import InputError, ModelFileError
from synthgov.generators.base import Intervals, TabularSynthesizer
from synthgov.generators.neural.encoding import ColumnEncoding
from synthgov.generators.neural.mixed import MixedLayout
from synthgov.generators.neural.torch_utils import (
    PRECISIONS,
    autocast,
    load_weights,
    resolve_device,
    resolve_precision,
    torch_generator,
    torch_seed,
    weights_to_bytes,
)
from synthgov.generators.neural.training import TrainingReport, train

if TYPE_CHECKING:
    import torch

WEIGHTS_FILE = "weights.safetensors"
#: Rows per network call when sampling (bounds memory on large samples). 16,384: with 65,536-row chunks the
#: activations leave the caches and throughput fell at 100,000 rows (autoregressive 59k -> 36k rows/s, ctgan
#: 88k -> 67k, tvae 167k -> 128k on 15 columns, 2 cores; benchmarks/autoregressive_profile.py --sampling-chunks).
SAMPLE_CHUNK = 16_384


class NeuralSynthesizer(TabularSynthesizer):
    """Base of the neural generators; see the module docstring."""

    #: models over normal scores: match the training marginals on unconditional rows (:mod:`.marginal_matching`)
    match_marginals: bool = False
    #: ``precision="auto"`` trains in bfloat16 mixed precision where the hardware has it: worth it for models
    #: whose step is mostly large matrix products (measured per generator in docs/generators.md)
    bfloat16_pays: bool = False

    def __init__(
        self,
        *,
        seed: int | None = None,
        epochs: int = 100,
        batch_size: int = 500,
        max_seconds: float | None = None,
        patience: int | None = 10,
        validation: float = 0.1,
        bins: int = 100,
        device: str = "auto",
        precision: str = "auto",
    ) -> None:
        super().__init__(seed=seed)
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_seconds = max_seconds
        self.patience = patience
        self.validation = validation
        self.bins = bins
        self.device = device
        self.precision = precision

    # -- subclass hooks ----------------------------------------------------------------------------
    @abstractmethod
    def _build_network(self) -> torch.nn.Module:
        """The network, from parameters and ``encoding_`` (called at fit and at load)."""

    @abstractmethod
    def _train(self, tokens: np.ndarray, uniforms: dict[str, np.ndarray], rng: np.random.Generator) -> TrainingReport:
        """Train ``network_`` on the encoded table; return the report."""

    def _learn_statistics(self, tokens: np.ndarray, uniforms: dict[str, np.ndarray]) -> None:
        """Data statistics the network is built from (before ``_build_network``)."""
        return None

    def _architecture_state(self) -> dict[str, Any]:
        """Learned values besides the weights that the network needs (e.g. data statistics)."""
        return {}

    def _set_architecture_state(self, state: dict[str, Any]) -> None:
        return None

    # -- fit ----------------------------------------------------------------------------------------
    def _check_params(self) -> None:
        def positive_int(name: str) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")

        for name in ("epochs", "batch_size", "bins"):
            positive_int(name)
        if self.patience is not None:
            positive_int("patience")
        if self.max_seconds is not None and not (isinstance(self.max_seconds, (int, float)) and self.max_seconds > 0):
            raise InputError(f"max_seconds must be a positive number of seconds, got {self.max_seconds!r}")
        if not (isinstance(self.validation, (int, float)) and 0 <= self.validation < 0.5):
            raise InputError(f"validation must be a fraction in [0, 0.5), got {self.validation!r}")
        if not isinstance(self.match_marginals, (bool, np.bool_)):
            raise InputError(f"match_marginals must be true or false, got {self.match_marginals!r}")
        if self.precision not in PRECISIONS:
            raise InputError(f"precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}")
        if self.bins < 2:
            raise InputError(f"bins must be at least 2, got {self.bins!r}")

    def _fit_model(self, frame: pd.DataFrame, rng: np.random.Generator) -> None:
        import torch

        self._check_params()
        self.device_ = resolve_device(self.device)
        with progress.step("encode: tokens and normal scores"):
            uniforms = self.transformer_.to_uniforms(frame, rng, columns=self.model_columns_)
            bins = min(self.bins, max(8, round(len(frame) ** 0.5)))  # small tables: coarser bins, less overfitting
            self.encoding_, tokens = ColumnEncoding.fit(frame, self.transformer_, self.model_columns_, bins)
            self._learn_statistics(tokens, uniforms)
        with torch.random.fork_rng(devices=[self.device_] if self.device_.type == "cuda" else []):
            torch.manual_seed(torch_seed(rng))
            try:
                self.network_ = self._build_network().to(self.device_)
                self.training_ = self._train(tokens, uniforms, rng)
            except RuntimeError as exc:  # torch's allocators raise RuntimeError (CUDA: OutOfMemoryError, a subclass)
                if not _out_of_memory(exc):
                    raise
                raise InputError(
                    f"the {self.name} network for this table ({len(self.model_columns_)} modelled columns) does not "
                    f"fit in the memory of {self.device_} ({str(exc).splitlines()[0][:160]}); use fewer columns or a "
                    "generator without a network (copula, bayesnet)"
                ) from None

    def split_rows(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Training and validation row indices (no validation rows when ``validation`` is 0 or n is tiny)."""
        n_val = round(n * self.validation) if self.patience is not None else 0
        n_val = n_val if n_val >= 10 and n - n_val >= 10 else 0
        order = rng.permutation(n)
        return np.sort(order[n_val:]), np.sort(order[:n_val])

    def _run_training(
        self,
        train_batch: Any,
        validate: Any,
        n_rows: int,
        rng: np.random.Generator,
        description: str,
        batch_size: int | None = None,
        scheduler: Any = None,
    ) -> TrainingReport:
        """The shared loop (:func:`.training.train`) with this generator's epochs, budget and patience; each step
        under the autocast of its precision (:func:`.torch_utils.resolve_precision`, recorded in the report)."""
        import torch

        precision = self.training_precision()

        def step(rows: torch.Tensor) -> float:
            with autocast(self.device_, precision):
                return train_batch(rows)

        report = train(
            module=self.network_,
            train_batch=step,
            validate=validate,
            n_rows=n_rows,
            batch_size=batch_size or self.batch_rows(n_rows),
            epochs=self.epochs,
            max_seconds=self.max_seconds,
            patience=self.patience,
            generator=torch_generator(rng, torch.device("cpu")),
            description=f"{description} ({n_rows:,} rows)",
            scheduler=scheduler,
        )
        report.precision = precision
        return report

    def training_precision(self) -> str:
        """The arithmetic of this generator's training steps on ``device_`` (:func:`.torch_utils.resolve_precision`)."""
        return resolve_precision(self.precision, self.device_, bfloat16_pays=self.bfloat16_pays)

    def batch_rows(self, n_train: int) -> int:
        """Rows per step: ``batch_size``, made smaller on small tables so an epoch has at least 10 steps."""
        return max(1, min(self.batch_size, max(16, n_train // 10), n_train))

    # -- sampling helpers ---------------------------------------------------------------------------
    def _sample_uniforms(self, n: int, rng: np.random.Generator, fixed: Intervals) -> dict[str, np.ndarray]:
        intervals = {c: (np.full(n, lo), np.full(n, hi)) for c, (lo, hi) in fixed.items()}
        return self._sample_uniforms_rows(n, rng, intervals)

    def _given_tokens(self, n: int, intervals: dict[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """(n, columns) tokens of the conditioned columns, -1 where a column is free."""
        enc = self.encoding_
        given = np.full((n, len(enc.columns)), -1, dtype=np.int64)
        for name, (lo, hi) in intervals.items():
            j = enc.columns.index(name)
            given[:, j] = enc.token_of_interval(j, lo, hi)
        return given

    @staticmethod
    def _pin(
        uniforms: dict[str, np.ndarray], intervals: dict[str, tuple[np.ndarray, np.ndarray]], rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        """Conditioned columns take their requested values exactly (a draw inside each row's interval)."""
        for name, (lo, hi) in intervals.items():
            uniforms[name] = lo + rng.random(lo.size) * (hi - lo)
        return uniforms

    def _raw_rows(self, given: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, torch.Tensor]:
        """Models over normal scores: for ``given`` (rows, categorical columns) codes (-1 = free), the sampled
        normal scores (rows, numeric columns) and the network's (rows, width) output, whose categorical blocks
        are logits. Called without gradients, the network in eval mode."""
        raise NotImplementedError

    def _sample_mixed(
        self, given: np.ndarray, rng: np.random.Generator, *, match: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Models over normal scores: (normal scores, codes) of ``len(given)`` rows. With ``match`` and
        ``match_marginals``, rows with nothing given draw their categories with the calibration offsets."""
        import torch

        layout, n = self._layout(), len(given)
        z = np.empty((n, layout.n_numeric), dtype=np.float64)
        codes = np.empty((n, len(layout.sizes)), dtype=np.int64)
        offsets = getattr(self, "category_offsets_", None) if match and self.match_marginals else None
        free = (given < 0).all(1)
        self.network_.eval()
        with torch.no_grad():
            for start in range(0, n, SAMPLE_CHUNK):
                part = slice(start, min(n, start + SAMPLE_CHUNK))
                z[part], logits = self._raw_rows(given[part], rng)
                codes[part] = layout.draw_categories(logits, rng, offsets, free[part])
        return z, codes

    def _calibrate_mixed(self, rng: np.random.Generator) -> None:
        """Models over normal scores, after training: the fixed corrections of ``match_marginals``
        (:mod:`.marginal_matching`), found on a reference sample of unconditional rows: one offset per category,
        and the quantiles of each numeric column's normal scores (over rows where it is present)."""
        import torch

        from synthgov.generators.neural.marginal_matching import CALIBRATION_ROWS, score_quantiles

        layout = self._layout()
        given = np.full((CALIBRATION_ROWS, len(layout.sizes)), -1, dtype=np.int64)
        self.network_.eval()
        with torch.no_grad():
            z, logits = self._raw_rows(given, rng)
        self.category_offsets_ = layout.tilt_offsets(logits, self._category_targets())
        codes = layout.draw_categories(logits, rng, self.category_offsets_)
        present = self._present_rows(codes)
        self.score_quantiles_ = [score_quantiles(z[present[k], k]) for k in range(layout.n_numeric)]

    def _present_rows(self, codes: np.ndarray) -> list[np.ndarray]:
        """Per numeric column, the rows whose value is present (missing flag 0; all rows without gaps)."""
        enc = self.encoding_
        n_cat, flags = len(enc.categorical_index), list(enc.flag_index)
        rows = np.ones(len(codes), dtype=bool)
        return [codes[:, n_cat + flags.index(j)] == 0 if j in flags else rows for j in enc.numeric_index]

    def _layout(self) -> MixedLayout:
        """Models over normal scores: numeric scores, then one-hot blocks (categories, missing flags). Built
        once per fitted encoding (it caches its index tensors per device)."""
        cached = self.__dict__.get("_mixed_layout")
        if cached is None or cached[0] is not self.encoding_:
            cached = (self.encoding_, MixedLayout(len(self.encoding_.numeric_index), self.encoding_.mixed_sizes))
            self.__dict__["_mixed_layout"] = cached
        return cached[1]

    def _given_mixed(self, n: int, intervals: dict[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        mids = {name: (lo + hi) / 2 for name, (lo, hi) in intervals.items()}
        return self.encoding_.given_mixed(self._given_tokens(n, intervals), mids)

    def _sample_by_matching(
        self,
        n: int,
        rng: np.random.Generator,
        intervals: dict[str, tuple[np.ndarray, np.ndarray]],
        candidates: int = 16,
    ) -> dict[str, np.ndarray]:
        """Sampling for the models over normal scores: given categories (and missing flags) go into the model's
        conditional vector (native); for a given number, each row keeps the closest of ``candidates`` draws
        before the number is set exactly, so the other columns follow it (bounded work, no rejection loop)."""
        enc = self.encoding_
        given = self._given_mixed(n, intervals)
        pinned = [k for k, j in enumerate(enc.numeric_index) if enc.columns[j] in intervals]
        pool = given if not pinned else np.repeat(given, candidates, axis=0)
        z, codes = self._sample_mixed(pool, rng)
        if self.match_marginals and hasattr(self, "score_quantiles_"):  # (absent in files saved before it existed)
            z = self._calibrated_scores(z, (pool < 0).all(1))
        if pinned:
            mids = {name: (lo + hi) / 2 for name, (lo, hi) in intervals.items()}
            target = np.stack(
                [enc.place_scores(enc.numeric_index[k], mids[enc.columns[enc.numeric_index[k]]]) for k in pinned],
                axis=1,
            )
            gap = np.abs(z[:, pinned] - np.repeat(target, candidates, axis=0)).sum(1).reshape(n, candidates)
            pick = np.arange(n) * candidates + gap.argmin(1)
            z, codes = z[pick], codes[pick]
        codes = np.where(given >= 0, given, codes)
        return self._pin(enc.uniforms_from_mixed(z, codes, rng), intervals, rng)

    def _category_targets(self) -> list[np.ndarray]:
        """Training frequencies of each categorical block of the mixed encoding (categories, missing flags)."""
        enc = self.encoding_
        return [np.diff(enc.edges[j]) for j in enc.categorical_index] + [
            np.array([1.0 - enc.missing[j], enc.missing[j]]) for j in enc.flag_index
        ]

    def _calibrated_scores(self, z: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Normal scores of ``rows`` through the calibration's map of each numeric column, so the columns follow
        the training marginals (:func:`.marginal_matching.map_scores`)."""
        from synthgov.generators.neural.marginal_matching import map_scores

        z = np.array(z, dtype=np.float64, copy=True)
        for k, quantiles in enumerate(self.score_quantiles_):
            z[rows, k] = map_scores(z[rows, k], quantiles)
        return z

    # -- persistence --------------------------------------------------------------------------------
    def _model_state(self) -> dict[str, Any]:
        return {
            "encoding": self.encoding_.to_state(),
            "training": self.training_.to_state(),
            "architecture": self._architecture_state(),
            **(
                {"calibration": {"offsets": self.category_offsets_, "quantiles": self.score_quantiles_}}
                if hasattr(self, "category_offsets_")
                else {}
            ),
        }

    def _set_model_state(self, state: dict[str, Any]) -> None:
        self.encoding_ = ColumnEncoding.from_state(state["encoding"])
        self.training_ = TrainingReport(**state["training"])
        self._set_architecture_state(state["architecture"])
        if "calibration" in state:
            calibration = state["calibration"]
            self.category_offsets_ = [np.asarray(o, dtype=np.float64) for o in calibration["offsets"]]
            self.score_quantiles_ = [np.asarray(q, dtype=np.float64) for q in calibration["quantiles"]]

    def _extra_files(self) -> dict[str, bytes]:
        return {WEIGHTS_FILE: weights_to_bytes(self.network_)}

    def _load_extra_files(self, files: dict[str, bytes]) -> None:
        if WEIGHTS_FILE not in files:
            raise ModelFileError(f"the model file has no {WEIGHTS_FILE}")
        self.device_ = resolve_device(self.device)
        network = self._build_network()
        load_weights(network, files[WEIGHTS_FILE])
        self.network_ = network.to(self.device_).eval()


def _out_of_memory(exc: RuntimeError) -> bool:
    text = str(exc).lower()
    return "can't allocate memory" in text or "out of memory" in text
