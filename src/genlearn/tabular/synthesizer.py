"""``TabularSynthesizer``: learn a mixed-type table, then draw new rows like it.

    syn = gl.TabularSynthesizer(model="cart", seed=0).fit("credit.csv")   # or vae, gan, copula
    fake = syn.sample(10_000)                                  # same columns, dtypes, levels
    bad = syn.sample(500, conditions={"Status": "bad"})        # rebalance a minority class
    syn.save("runs/credit"); gl.load("runs/credit")

The table is encoded by :class:`~genlearn.tabular.transformer.TableTransformer` and modelled by
one backend (:mod:`~genlearn.tabular.backends`: TVAE-like ``vae``, CTGAN-like ``gan``, Gaussian
``copula``; :mod:`~genlearn.tabular.cart`: synthpop-style sequential decision trees ``cart``,
the best on TSTR in benchmarks/README.md). ``conditions`` is met by rejection: rows are drawn
in rounds and those matching every condition kept (the GAN also feeds the condition to its
generator, so most rows match; with ``target``, a condition on it picks that class's model).

Reproducibility: training runs inside a forked torch RNG seeded from ``seed`` (dropout, init and
batches included) and with a fixed thread count, so the same seed gives the same table bit for
bit on CPU. With ``seed`` set, ``sample(n)`` calls without their own seed draw the k-th call's
rows from ``(seed, k)``: repeatable from a fresh fit, different from call to call.

The model has no tractable likelihood (``log_prob`` raises ``TypeError``); it is compared on
the table metrics of :mod:`genlearn.metrics.tabular` instead.
"""

from __future__ import annotations

import logging
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch

from .._utils import check_n
from ..base import GenerativeModel
from ..ops.hmm import cpu_threads
from ..registry import register
from .backends import BACKENDS
from .transformer import TableTransformer, read_table, row_hashes

log = logging.getLogger(__name__)

# The default encoding of numbers per backend: measured in benchmarks/tables_normalization.py.
DEFAULT_NORMALIZATION = {"vae": "mode", "gan": "mode", "copula": "quantile", "cart": "quantile"}
MAX_REJECTION_ROUNDS = 50
# allow_copies=False: rows equal to a training row are drawn again at most this many times
COPY_REDRAW_ROUNDS = 50
# ... and a warning says so when more than this share of a draw was redrawn
COPY_WARN_SHARE = 0.1
# target=: a class with fewer training rows than this gets a warning (its model sees only them)
RARE_CLASS_ROWS = 5
# calibrate=True: model quantiles from this many rows, at this many levels
CALIBRATION_ROWS = 10_000
CALIBRATION_QUANTILES = 201


@register("tabular")
class TabularSynthesizer(GenerativeModel):
    """Synthetic rows for a pandas table with numbers, categories, dates and missing values.

    Parameters
    ----------
    model : {"cart", "vae", "gan", "copula"}; the default, ``cart``, had the best TSTR and
        fidelity in benchmarks/README.md (credit_data, mlc_churn, breast cancer, penguins,
        diamonds) and fits in seconds.
    epochs, batch_size, lr : training of the neural backends (lr None: the backend's default,
        1e-3 for the VAE, 2e-4 for the GAN).
    hidden : widths of the hidden layers; latent_dim : size of z.
    normalization : {"auto", "mode", "quantile"} for numbers ("auto": mode for the VAE and GAN,
        quantile for the copula and CART, which need it).
    columns : dict of column name -> type overriding detection (see ``TableTransformer``).
    target : a categorical column (the class a downstream classifier predicts); one model is
        fitted per class and classes are drawn at their training frequency, so the relation
        between the class and the other columns is learnt directly, and conditioning on the
        class is exact (no rejection).
    calibrate : map each number column of the samples through F_real^-1(F_model(x)), the
        model's marginal (from 10,000 draws after fitting) onto the real one; a fixed monotone
        map, so the ranks (and the dependence) the model learnt are kept.
    min_leaf, smoothing : ``model="cart"`` only: the fewest training rows in a tree's leaf
        (default 5), and the Gaussian noise added to numbers drawn from a leaf, in units of
        the leaf's kernel bandwidth (default 0: numbers are training values). Both move the
        synthetic rows away from the training rows (distance to closest record) at some cost
        in TSTR; measured in benchmarks/README.md.
    allow_copies : bool (default False): whether a synthetic row may equal a training row in
        every column. By default such rows are drawn again, from the same model (with
        ``target``, the same class's) and conditions, up to 50 times; a warning names the rows
        still left (as on a table whose every possible row is a training row), or says so when
        more than 10% of a draw was redrawn, since that moves the table away from the model's
        distribution (without ``target``, the share of each class too). The fitted model keeps a
        64-bit hash per training row for this (in the checkpoint too), not the rows; whoever
        holds the checkpoint can still test whether a given row was a training row. Draws with
        no copy are unchanged by it.
    seed : int or None; threads : torch CPU threads during fit/sample (default 1).
    """

    input_kind = "rows"
    conditional = False
    has_likelihood = False
    resumable = False
    epoch_trained = True

    def __init__(self, model: str = "cart", *, epochs: int = 300, batch_size: int = 500,
                 lr: float | None = None, hidden: tuple[int, ...] = (128, 128),
                 latent_dim: int = 128, normalization: str = "auto", columns: dict | None = None,
                 target: str | None = None, calibrate: bool = True, min_leaf: int = 5,
                 smoothing: float = 0.0, allow_copies: bool = False, seed: int | None = 0,
                 threads: int | None = 1, verbose: bool = False,
                 device: str = "cpu"):
        self.model, self.epochs, self.batch_size, self.lr = model, epochs, batch_size, lr
        self.hidden, self.latent_dim, self.normalization = hidden, latent_dim, normalization
        self.columns, self.target, self.calibrate = columns, target, calibrate
        self.min_leaf, self.smoothing, self.allow_copies = min_leaf, smoothing, allow_copies
        self.seed, self.threads = seed, threads
        self.verbose, self.device = verbose, device
        self._validate_params()

    def _validate_params(self) -> None:
        if self.model not in BACKENDS:
            raise ValueError(f"model must be one of {', '.join(BACKENDS)}; got {self.model!r}")
        for name in ("epochs", "batch_size", "latent_dim", "min_leaf"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer; got {v!r}")
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be a positive number or None; got {self.lr!r}")
        if (not isinstance(self.hidden, (tuple, list)) or not self.hidden
                or not all(isinstance(h, int) and h > 0 for h in self.hidden)):
            raise ValueError(f"hidden must be a non-empty tuple of positive ints; got "
                             f"{self.hidden!r}")
        if not isinstance(self.allow_copies, bool):
            raise ValueError(f"allow_copies must be True or False; got {self.allow_copies!r}")
        if (isinstance(self.smoothing, bool) or not isinstance(self.smoothing, (int, float))
                or not np.isfinite(self.smoothing) or self.smoothing < 0):
            raise ValueError(f"smoothing must be a number >= 0; got {self.smoothing!r}")
        if self.model != "cart" and (self.min_leaf != 5 or self.smoothing != 0):
            raise ValueError(f"min_leaf and smoothing apply to model='cart' only; got "
                             f"model={self.model!r}")
        if self.normalization not in ("auto", "mode", "quantile"):
            raise ValueError(f"normalization must be 'auto', 'mode' or 'quantile'; got "
                             f"{self.normalization!r}")
        if self.model in ("copula", "cart") and self.normalization == "mode":
            raise ValueError(f"normalization='mode' does not fit model={self.model!r}; it "
                             "needs one normal score per number: use 'quantile' or 'auto'")
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, int)):
            raise ValueError(f"seed must be an int or None; got {self.seed!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ValueError(f"threads must be a positive int or None; got {self.threads!r}")
        if self.device != "cpu":
            raise ValueError(f"device must be 'cpu' (the tabular models are small); got "
                             f"{self.device!r}")
        if self.target is not None and not isinstance(self.target, str):
            raise ValueError(f"target must be a column name or None; got {self.target!r}")
        if not isinstance(self.calibrate, bool):
            raise ValueError(f"calibrate must be True or False; got {self.calibrate!r}")
        TableTransformer(self.columns)  # validates the column overrides

    # -- fitting ------------------------------------------------------------------------------
    def _params(self) -> SimpleNamespace:
        return SimpleNamespace(**self.get_params(deep=False))

    def _groups(self, df: pd.DataFrame) -> list[np.ndarray]:
        """Row indices of each target class (one group of all rows without a target)."""
        if self.target is None:
            return [np.arange(len(df))]
        col = self.transformer_.column(self.target)
        if col.kind not in ("categorical", "boolean"):
            raise ValueError(f"target {self.target!r} is a {col.kind} column; it must be "
                             "categorical or boolean")
        codes = col.codes(df[self.target])
        groups = [np.flatnonzero(codes == j) for j in range(col.width)]
        if sum(len(g) > 0 for g in groups) < 2:
            raise ValueError(f"target {self.target!r} has a single class; it needs at least two")
        for level, g in zip(col.levels, groups, strict=True):
            if 0 < len(g) < RARE_CLASS_ROWS:
                warnings.warn(f"target class {level!r} has {len(g)} training row(s); its own "
                              "model learns from those alone, so its synthetic rows are close "
                              "to copies of them (cart: exact copies of a single row)",
                              UserWarning, stacklevel=3)
        return groups

    def fit(self, X, y=None, *, callback=None) -> TabularSynthesizer:
        """Learn the table ``X`` (a DataFrame, a CSV path, or a 2-D numeric array whose columns
        become x0, x1, ...); ``y`` is not used (name a class column with ``target``)."""
        df = read_table(X, name="X")
        if self.target is not None and self.target not in df.columns:
            raise ValueError(f"target {self.target!r} is not a column of the table (columns: "
                             f"{list(map(str, df.columns))[:10]})")
        norm = self.normalization
        if norm == "auto":
            norm = DEFAULT_NORMALIZATION[self.model]
        seed = self.seed if self.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        with cpu_threads(self.threads), torch.random.fork_rng():
            torch.manual_seed(seed)
            self.transformer_ = TableTransformer(self.columns, norm, seed).fit(df)
            M = self.transformer_.transform(df, np.random.default_rng(seed))
            gen = torch.Generator().manual_seed(seed)
            groups = self._groups(df)
            self.group_counts_ = [int(len(g)) for g in groups]
            self.backends_, self.calibration_, self.history_ = [], [], []
            reasons = []
            for j, rows in enumerate(groups):
                backend, history = BACKENDS[self.model](), []
                if len(rows):
                    reasons.append(backend.fit(M[rows], self.transformer_, self._params(), gen,
                                               history, callback))
                    calib = self._calibration(backend, df.iloc[rows], gen)
                else:  # a level of a category dtype that no row has
                    backend, calib = None, None
                self.backends_.append(backend)
                self.calibration_.append(calib)
                self.history_ += [{"group": j, **rec} for rec in history]
        self.stop_reason_ = reasons[-1]
        self.row_hashes_ = np.unique(row_hashes(df))
        self.n_features_in_ = df.shape[1]
        self.data_shape_ = (self.n_features_in_,)
        self.feature_names_in_ = np.asarray(self.transformer_.names, dtype=object)
        self.epochs_trained_ = self.epochs if self.model != "copula" else 1
        self.n_sample_calls_ = 0
        self.is_fitted_ = True
        return self

    def _calibration(self, backend, real: pd.DataFrame, gen) -> dict | None:
        """Quantiles of each number column in the real rows and in CALIBRATION_ROWS model rows,
        so decoding can map the model's marginal onto the real one (``calibrate=True``)."""
        if not self.calibrate:
            return None
        M = backend.sample(CALIBRATION_ROWS, gen, {})
        spans, out = self.transformer_.spans(), {}
        levels = np.linspace(0.0, 1.0, CALIBRATION_QUANTILES)
        for col in self.transformer_.columns_:
            if col.kind not in ("continuous", "integer", "datetime"):
                continue
            start, w = spans[col.name]
            fake = col.decode_float(M[:, start:start + w])
            true = col._to_float(real[col.name])
            fake, true = fake[~np.isnan(fake)], true[~np.isnan(true)]
            if len(fake) < 2 or len(true) < 2:
                continue
            out[col.name] = {"model": np.quantile(fake, levels).tolist(),
                             "real": np.quantile(true, levels).tolist()}
        return out

    # -- sampling -----------------------------------------------------------------------------
    def _conditions(self, conditions) -> dict[str, int]:
        """Column -> level index for ``conditions``, with errors naming a bad column or level."""
        if conditions is None:
            return {}
        if not isinstance(conditions, dict):
            raise ValueError(f"conditions must be a dict of column -> value; got "
                             f"{type(conditions).__name__}")
        out = {}
        for name, value in conditions.items():
            if name not in self.transformer_.names:
                raise ValueError(f"conditions names unknown column {name!r}; the table's "
                                 f"columns are {self.transformer_.names}")
            col = self.transformer_.column(name)
            if col.kind not in ("categorical", "boolean"):
                raise ValueError(f"conditions on column {name!r} ({col.kind}) are not supported; "
                                 "only categorical and boolean columns can be conditioned on")
            keys = [(type(v).__name__, v) for v in col.levels]
            v = value.item() if isinstance(value, np.generic) else value
            if (type(v).__name__, v) not in keys:
                raise ValueError(f"conditions[{name!r}] = {value!r} is not a level of the column "
                                 f"(levels: {col.levels[:20]})")
            out[name] = keys.index((type(v).__name__, v))
        return out

    def _generator(self, seed) -> torch.Generator:
        if seed is None and self.seed is not None:
            seq = np.random.SeedSequence([self.seed, self.n_sample_calls_])
            self.n_sample_calls_ += 1
            return torch.Generator().manual_seed(int(seq.generate_state(1)[0]))
        if seed is None:
            return torch.Generator().manual_seed(int(np.random.SeedSequence().entropy % 2**62))
        return torch.Generator().manual_seed(int(seed))

    def _draw(self, backend, n: int, cond: dict, gen) -> np.ndarray:
        """``n`` encoded rows of one backend meeting ``cond``, by rejection."""
        spans = self.transformer_.spans()
        kept, have, drawn = [], 0, 0
        for _ in range(MAX_REJECTION_ROUNDS):
            want = n if not kept else max(n - have, 1) * 2
            M = backend.sample(min(max(want, 64), 10 * n + 64), gen, cond)
            drawn += len(M)
            ok = np.ones(len(M), dtype=bool)
            for name, level in cond.items():
                start, w = spans[name]
                ok &= M[:, start:start + w].argmax(axis=1) == level
            kept.append(M[ok])
            have += int(ok.sum())
            if have >= n:
                return np.concatenate(kept)[:n]
        raise ValueError(f"could not draw {n} rows meeting the conditions: {have} of {drawn} "
                         f"drawn rows matched ({have / drawn:.2%}); the model rarely makes that "
                         "combination")

    def sample(self, n, *, conditions: dict | None = None, seed=None) -> pd.DataFrame:
        """``n`` synthetic rows as a DataFrame with the training columns, dtypes and levels.

        ``conditions={"Status": "bad"}`` keeps only rows with those levels (categorical or
        boolean columns). ``seed`` makes this call's draw repeatable on its own. With
        ``calibrate``, number columns are mapped onto the real marginal of their class, except
        when ``conditions`` names columns other than ``target`` (the real marginal given such
        a condition is not known).
        """
        self._check_fitted()
        n = check_n(n)
        cond = self._conditions(conditions)
        gen = self._generator(seed)
        counts = np.asarray(self.group_counts_, dtype=np.float64)
        if self.target is not None and self.target in cond:
            counts = np.where(np.arange(len(counts)) == cond.pop(self.target), counts, 0.0)
        calibrate = not cond
        parts = []
        with cpu_threads(self.threads), torch.random.fork_rng():
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))
            k = torch.multinomial(torch.as_tensor(counts / counts.sum()), n, replacement=True,
                                  generator=gen)
            per_group = torch.bincount(k, minlength=len(counts)).tolist()
            first = left = 0
            for j, m in enumerate(per_group):
                if m:
                    calib = self.calibration_[j] if calibrate else None
                    rows = self._rows(j, m, cond, calib, gen)
                    copied = self._copies(rows)
                    first += int(copied.sum())
                    for _ in range(COPY_REDRAW_ROUNDS):
                        if not copied.any():
                            break
                        new = self._rows(j, int(copied.sum()), cond, calib, gen)
                        rows = pd.concat([rows[~copied], new], ignore_index=True)
                        copied = np.r_[np.zeros(len(rows) - len(new), bool), self._copies(new)]
                    left += int(copied.sum())
                    parts.append(rows)
            order = torch.randperm(n, generator=gen).numpy()
        if left:
            warnings.warn(f"{left} of {n} synthetic rows still equal a training row after "
                          f"{COPY_REDRAW_ROUNDS} redraws: the model (or the table) has few "
                          "distinct rows", UserWarning, stacklevel=2)
        elif first > COPY_WARN_SHARE * n:
            warnings.warn(f"{first} of {n} drawn rows ({first / n:.0%}) equalled a training row "
                          "and were drawn again, which moves the synthetic table away from the "
                          "model's distribution (allow_copies=True keeps them)", UserWarning,
                          stacklevel=2)
        return pd.concat(parts, ignore_index=True).iloc[order].reset_index(drop=True)

    def _rows(self, j: int, m: int, cond: dict, calib, gen) -> pd.DataFrame:
        """``m`` decoded rows of group ``j``'s model meeting ``cond``."""
        M = self._draw(self.backends_[j], m, cond, gen)
        if self.target is not None:  # each group's model is of one class
            start, w = self.transformer_.spans()[self.target]
            M[:, start:start + w] = np.eye(w)[j]
        return self.transformer_.inverse_transform(M, calib)

    def _copies(self, rows: pd.DataFrame) -> np.ndarray:
        """Which ``rows`` equal a training row (none when ``allow_copies`` or no hashes)."""
        if self.allow_copies or self.row_hashes_ is None:
            return np.zeros(len(rows), dtype=bool)
        return np.isin(row_hashes(rows), self.row_hashes_)

    def evaluate(self, X, y=None, *, seed=0) -> dict:
        """Table metrics of as many samples as held-out rows ``X`` (no likelihood): column
        shapes, pair trends and C2ST detection accuracy (:mod:`genlearn.metrics.tabular`)."""
        from ..metrics import tabular as mt

        self._check_fitted()
        real = self.transformer_.check_schema(read_table(X, name="X"), name="X")
        fake = self.sample(len(real), seed=seed)
        kinds = {c.name: c.kind for c in self.transformer_.columns_}
        return {"column_shapes": mt.column_shapes(real, fake, kinds)["score"],
                "pair_trends": mt.pair_trends(real, fake, kinds)["score"],
                "detection_accuracy": mt.detection(real, fake, kinds, seed)["accuracy"],
                "estimator": "table metrics of samples (no likelihood)", "n": int(len(real))}

    @classmethod
    def _contract_example(cls) -> dict:
        rng = np.random.default_rng(0)
        return {"params": dict(model="vae", epochs=2, batch_size=16, hidden=(8,), latent_dim=2,
                               verbose=False, device="cpu"),
                "X": rng.normal(size=(48, 3))}

    def log_prob(self, X):
        raise TypeError("TabularSynthesizer has no tractable likelihood; compare tables with "
                        "genlearn.metrics.tabular (column shapes, pair trends, TSTR)")

    def score(self, X, y=None):
        return self.log_prob(X)

    # -- checkpoints --------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict, dict]:
        metas, tensors = [], {}
        for j, backend in enumerate(self.backends_):
            meta, ts = backend.get_state() if backend is not None else (None, {})
            metas.append(meta)
            tensors.update({f"g{j}.{k}": v for k, v in ts.items()})
        if self.row_hashes_ is not None:  # None: loaded from a checkpoint that had none
            tensors["row_hashes"] = torch.from_numpy(self.row_hashes_.view(np.int64).copy())
        return {"transformer": self.transformer_.to_json(), "backends": metas,
                "calibration": self.calibration_, "group_counts_": self.group_counts_,
                "history_": self.history_, "stop_reason_": self.stop_reason_,
                "n_features_in_": self.n_features_in_}, tensors

    def _set_state(self, meta: dict, tensors: dict) -> None:
        self.transformer_ = TableTransformer.from_json(meta["transformer"])
        self.backends_ = []
        for j, m in enumerate(meta["backends"]):
            if m is None:
                self.backends_.append(None)
                continue
            backend = BACKENDS[self.model]()
            prefix = f"g{j}."
            backend.set_state(m, {k[len(prefix):]: v for k, v in tensors.items()
                                  if k.startswith(prefix)}, self.transformer_, self._params())
            self.backends_.append(backend)
        self.calibration_ = meta["calibration"]
        hashes = tensors.get("row_hashes")  # absent in checkpoints written before allow_copies
        self.row_hashes_ = None if hashes is None else hashes.numpy().view(np.uint64).copy()
        if hashes is None and not self.allow_copies:
            warnings.warn("this checkpoint was written before allow_copies existed and holds no "
                          "training-row hashes: its samples are not checked for copies of "
                          "training rows", UserWarning, stacklevel=3)
        self.group_counts_ = meta["group_counts_"]
        self.history_ = meta["history_"]
        self.stop_reason_ = meta["stop_reason_"]
        self.n_features_in_ = int(meta["n_features_in_"])
        self.data_shape_ = (self.n_features_in_,)
        self.feature_names_in_ = np.asarray(self.transformer_.names, dtype=object)
        self.epochs_trained_ = self.epochs if self.model != "copula" else 1
        self.n_sample_calls_ = 0
        self.is_fitted_ = True
