"""``TabularSynthesizer``: learn a mixed-type table, then draw new rows like it.

    syn = gl.TabularSynthesizer(model="vae", seed=0).fit("credit.csv")
    fake = syn.sample(10_000)                                  # same columns, dtypes, levels
    bad = syn.sample(500, conditions={"Status": "bad"})        # rebalance a minority class
    syn.save("runs/credit"); gl.load("runs/credit")

The table is encoded by :class:`~genlearn.tabular.transformer.TableTransformer` and modelled by
one backend (:mod:`~genlearn.tabular.backends`: TVAE-like ``vae``, CTGAN-like ``gan``, Gaussian
``copula``). ``conditions`` is met by rejection: rows are drawn in rounds and those matching
every condition kept (the GAN also feeds the condition to its generator, so most rows match).

Reproducibility: training runs inside a forked torch RNG seeded from ``seed`` (dropout, init and
batches included) and with a fixed thread count, so the same seed gives the same table bit for
bit on CPU. With ``seed`` set, ``sample(n)`` calls without their own seed draw the k-th call's
rows from ``(seed, k)``: repeatable from a fresh fit, different from call to call.

The model has no tractable likelihood (``log_prob`` raises ``TypeError``); it is compared on
the table metrics of :mod:`genlearn.metrics.tabular` instead.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch

from .._utils import check_n
from ..base import GenerativeModel
from ..ops.hmm import cpu_threads
from ..registry import register
from .backends import BACKENDS
from .transformer import TableTransformer, read_table

log = logging.getLogger(__name__)

# The default encoding of numbers per backend: measured in benchmarks/tables_normalization.py.
DEFAULT_NORMALIZATION = {"vae": "mode", "gan": "mode", "copula": "quantile"}
MAX_REJECTION_ROUNDS = 50


@register("tabular")
class TabularSynthesizer(GenerativeModel):
    """Synthetic rows for a pandas table with numbers, categories, dates and missing values.

    Parameters
    ----------
    model : {"vae", "gan", "copula"}
    epochs, batch_size, lr : training of the neural backends (lr None: the backend's default,
        1e-3 for the VAE, 2e-4 for the GAN).
    hidden : widths of the hidden layers; latent_dim : size of z.
    normalization : {"auto", "mode", "quantile"} for numbers ("auto": mode for the VAE and GAN,
        quantile for the copula, which needs it).
    columns : dict of column name -> type overriding detection (see ``TableTransformer``).
    seed : int or None; threads : torch CPU threads during fit/sample (default 1).
    """

    input_kind = "rows"
    conditional = False
    has_likelihood = False
    resumable = False
    epoch_trained = True

    def __init__(self, model: str = "vae", *, epochs: int = 300, batch_size: int = 500,
                 lr: float | None = None, hidden: tuple[int, ...] = (128, 128),
                 latent_dim: int = 128, normalization: str = "auto", columns: dict | None = None,
                 seed: int | None = 0, threads: int | None = 1, verbose: bool = False,
                 device: str = "cpu"):
        self.model, self.epochs, self.batch_size, self.lr = model, epochs, batch_size, lr
        self.hidden, self.latent_dim, self.normalization = hidden, latent_dim, normalization
        self.columns, self.seed, self.threads = columns, seed, threads
        self.verbose, self.device = verbose, device
        self._validate_params()

    def _validate_params(self) -> None:
        if self.model not in BACKENDS:
            raise ValueError(f"model must be one of {', '.join(BACKENDS)}; got {self.model!r}")
        for name in ("epochs", "batch_size", "latent_dim"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer; got {v!r}")
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be a positive number or None; got {self.lr!r}")
        if (not isinstance(self.hidden, (tuple, list)) or not self.hidden
                or not all(isinstance(h, int) and h > 0 for h in self.hidden)):
            raise ValueError(f"hidden must be a non-empty tuple of positive ints; got "
                             f"{self.hidden!r}")
        if self.normalization not in ("auto", "mode", "quantile"):
            raise ValueError(f"normalization must be 'auto', 'mode' or 'quantile'; got "
                             f"{self.normalization!r}")
        if self.model == "copula" and self.normalization == "mode":
            raise ValueError("normalization='mode' does not fit model='copula'; the copula "
                             "needs one normal score per number: use 'quantile' or 'auto'")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError(f"seed must be an int or None; got {self.seed!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ValueError(f"threads must be a positive int or None; got {self.threads!r}")
        if self.device != "cpu":
            raise ValueError(f"device must be 'cpu' (the tabular models are small); got "
                             f"{self.device!r}")
        TableTransformer(self.columns)  # validates the column overrides

    # -- fitting ------------------------------------------------------------------------------
    def _params(self) -> SimpleNamespace:
        return SimpleNamespace(**self.get_params(deep=False))

    def fit(self, X, y=None, *, callback=None) -> TabularSynthesizer:
        """Learn the table ``X`` (a DataFrame or a CSV path); ``y`` is not used."""
        df = read_table(X, name="X")
        norm = self.normalization
        if norm == "auto":
            norm = DEFAULT_NORMALIZATION[self.model]
        seed = self.seed if self.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        with cpu_threads(self.threads), torch.random.fork_rng():
            torch.manual_seed(seed)
            self.transformer_ = TableTransformer(self.columns, norm, seed).fit(df)
            M = self.transformer_.transform(df, np.random.default_rng(seed))
            gen = torch.Generator().manual_seed(seed)
            self.backend_ = BACKENDS[self.model]()
            self.history_ = []
            self.stop_reason_ = self.backend_.fit(M, self.transformer_, self._params(), gen,
                                                  self.history_, callback)
        self.n_features_in_ = df.shape[1]
        self.feature_names_in_ = np.asarray(self.transformer_.names, dtype=object)
        self.epochs_trained_ = len(self.history_)
        self.n_sample_calls_ = 0
        self.is_fitted_ = True
        return self

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

    def sample_encoded(self, n, *, conditions=None, seed=None) -> np.ndarray:
        """``n`` encoded rows (one-hot blocks exact) meeting ``conditions``."""
        self._check_fitted()
        n = check_n(n)
        cond = self._conditions(conditions)
        gen = self._generator(seed)
        spans = self.transformer_.spans()
        kept, have, drawn = [], 0, 0
        with cpu_threads(self.threads), torch.random.fork_rng():
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))
            for _ in range(MAX_REJECTION_ROUNDS):
                want = n if not kept else max(n - have, 1) * 2
                M = self.backend_.sample(min(max(want, 64), 10 * n + 64), gen, cond)
                drawn += len(M)
                ok = np.ones(len(M), dtype=bool)
                for name, level in cond.items():
                    start, w = spans[name]
                    ok &= M[:, start:start + w].argmax(axis=1) == level
                kept.append(M[ok])
                have += int(ok.sum())
                if have >= n:
                    return np.concatenate(kept)[:n]
        raise ValueError(f"could not draw {n} rows meeting {conditions}: {have} of {drawn} "
                         f"drawn rows matched ({have / drawn:.2%}); the model rarely makes that "
                         "combination")

    def sample(self, n, *, conditions: dict | None = None, seed=None) -> pd.DataFrame:
        """``n`` synthetic rows as a DataFrame with the training columns, dtypes and levels.

        ``conditions={"Status": "bad"}`` keeps only rows with those levels (categorical or
        boolean columns). ``seed`` makes this call's draw repeatable on its own.
        """
        M = self.sample_encoded(n, conditions=conditions, seed=seed)
        return self.transformer_.inverse_transform(M)

    def log_prob(self, X):
        raise TypeError("TabularSynthesizer has no tractable likelihood; compare tables with "
                        "genlearn.metrics.tabular (column shapes, pair trends, TSTR)")

    def score(self, X, y=None):
        return self.log_prob(X)

    # -- checkpoints --------------------------------------------------------------------------
    @property
    def data_shape(self):
        return (int(self.n_features_in_),) if getattr(self, "is_fitted_", False) else None

    def _get_state(self) -> tuple[dict, dict]:
        meta, tensors = self.backend_.get_state()
        return {"transformer": self.transformer_.to_json(), "backend": meta,
                "history_": self.history_, "stop_reason_": self.stop_reason_,
                "n_features_in_": self.n_features_in_}, tensors

    def _set_state(self, meta: dict, tensors: dict) -> None:
        self.transformer_ = TableTransformer.from_json(meta["transformer"])
        self.backend_ = BACKENDS[self.model]()
        self.backend_.set_state(meta["backend"], tensors, self.transformer_, self._params())
        self.history_ = meta["history_"]
        self.stop_reason_ = meta["stop_reason_"]
        self.n_features_in_ = int(meta["n_features_in_"])
        self.feature_names_in_ = np.asarray(self.transformer_.names, dtype=object)
        self.epochs_trained_ = len(self.history_)
        self.n_sample_calls_ = 0
        self.is_fitted_ = True

