"""DataFrame <-> float matrix for the tabular models, with its fitted state in JSON.

``TableTransformer().fit(df)`` detects each column's type (overridable with ``columns=``),
fits one :mod:`~genlearn.tabular.columns` strategy per column, and lays their blocks side by
side. ``transform(df)`` gives an ``(n, width)`` float64 matrix; ``inverse_transform(M)`` gives a
DataFrame with the training columns, order, dtypes and levels back (argmax for each one-hot
block, so categories and integers come back exactly). ``to_json``/``from_json`` hold the whole
fitted state as JSON-able data: no pickle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .columns import COLUMN_TYPES, KINDS, detect_kind
from .normalizers import NORMALIZERS

FORMAT_VERSION = 1


def row_hashes(df: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row's values (uint64, one per row): equal rows, equal hashes. A
    cell is hashed as its text, a missing cell as one token and -0.0 as 0.0, so the hash does
    not depend on the index and rows that compare equal hash equal."""
    df = df.copy()
    for name in df.columns:
        if pd.api.types.is_float_dtype(df[name]):
            df[name] = df[name] + 0.0  # -0.0 + 0.0 is 0.0
    keys = df.astype(object).where(df.notna(), "<missing>").astype(str)
    return pd.util.hash_pandas_object(keys, index=False).to_numpy(dtype=np.uint64)


def read_table(data, *, name: str = "data") -> pd.DataFrame:
    """A DataFrame from a DataFrame or a CSV path, with clear errors for unreadable files."""
    if isinstance(data, pd.DataFrame):
        df = data
    elif isinstance(data, np.ndarray) and data.ndim == 2:  # a numeric array: columns x0, x1, ...
        df = pd.DataFrame(data, columns=[f"x{i}" for i in range(data.shape[1])])
    elif isinstance(data, (str, bytes)) or hasattr(data, "__fspath__"):
        try:
            df = pd.read_csv(data)
        except FileNotFoundError:
            raise ValueError(f"{name}: no such file {str(data)!r}") from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"{name}: {str(data)!r} is not UTF-8 text ({exc.reason} at byte "
                             f"{exc.start}); re-save it as UTF-8 or read it with "
                             "pandas.read_csv(path, encoding=...) and pass the DataFrame") from None
        except pd.errors.EmptyDataError:
            raise ValueError(f"{name}: {str(data)!r} is empty") from None
        except pd.errors.ParserError as exc:
            raise ValueError(f"{name}: {str(data)!r} is not a valid CSV: {exc}") from None
    else:
        raise ValueError(f"{name} must be a pandas DataFrame, a 2-D array or a CSV path; got "
                         f"{type(data).__name__}")
    if df.shape[1] == 0:
        raise ValueError(f"{name} has no columns")
    if len(df) == 0:
        raise ValueError(f"{name} has no rows")
    if df.columns.duplicated().any():
        dup = df.columns[df.columns.duplicated()].tolist()
        raise ValueError(f"{name} has duplicated column names: {dup}")
    return df


class TableTransformer:
    """Encode a mixed-type table for a neural model and decode its output.

    Parameters
    ----------
    columns : dict, optional
        Column name -> type, overriding detection (one of ``continuous``, ``integer``,
        ``datetime``, ``categorical``, ``boolean``, ``constant``).
    normalization : {"mode", "quantile"}
        How continuous, integer and datetime columns are encoded (see
        :mod:`~genlearn.tabular.normalizers`).
    seed : int
        Seeds the mixture fits and the per-row choice of mode, so encoding is reproducible.
    """

    def __init__(self, columns: dict | None = None, normalization: str = "mode", seed: int = 0):
        if columns is not None and not isinstance(columns, dict):
            raise ValueError(f"columns must be a dict of column name -> type; got "
                             f"{type(columns).__name__}")
        for col, kind in (columns or {}).items():
            if kind not in KINDS:
                raise ValueError(f"columns[{col!r}] must be one of {', '.join(KINDS)}; got "
                                 f"{kind!r}")
        if normalization not in NORMALIZERS:
            raise ValueError(f"normalization must be one of {', '.join(NORMALIZERS)}; got "
                             f"{normalization!r}")
        self.columns = dict(columns or {})
        self.normalization = normalization
        self.seed = seed

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame) -> TableTransformer:
        df = read_table(df)
        unknown = [c for c in self.columns if c not in df.columns]
        if unknown:
            raise ValueError(f"columns names {unknown} that are not in the table "
                             f"(columns: {list(map(str, df.columns))[:10]})")
        self.columns_ = []
        for i, name in enumerate(df.columns):
            if not isinstance(name, str):
                raise ValueError(f"column names must be text; column {i} is {name!r}")
            kind = self.columns.get(name) or detect_kind(df[name])
            col = COLUMN_TYPES[kind](name)
            col.fit(df[name], normalization=self.normalization, seed=self.seed + i)
            self.columns_.append(col)
        self.n_rows_ = len(df)
        return self

    # -- layout -----------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns_]

    def column(self, name: str):
        for c in self.columns_:
            if c.name == name:
                return c
        raise ValueError(f"unknown column {name!r}; the table's columns are {self.names}")

    def blocks(self) -> list[tuple[str, int, int]]:
        """``(activation, start, width)`` of every block of an encoded row, left to right."""
        out, start = [], 0
        for col in self.columns_:
            for act, w in col.blocks():
                out.append((act, start, w))
                start += w
        return out

    def spans(self) -> dict[str, tuple[int, int]]:
        """Column name -> ``(start, width)`` of its slice of an encoded row."""
        out, start = {}, 0
        for col in self.columns_:
            out[col.name] = (start, col.width)
            start += col.width
        return out

    @property
    def width(self) -> int:
        return sum(c.width for c in self.columns_)

    # -- encoding ---------------------------------------------------------------------------
    def check_schema(self, df: pd.DataFrame, *, name: str = "data") -> pd.DataFrame:
        """``df`` with the training columns in training order; an error names any difference."""
        missing = [c for c in self.names if c not in df.columns]
        extra = [str(c) for c in df.columns if c not in self.names]
        if missing or extra:
            raise ValueError(f"{name} does not have the fitted table's columns: missing "
                             f"{missing}, unexpected {extra}")
        return df[self.names]

    def transform(self, df, rng: np.random.Generator | None = None) -> np.ndarray:
        """``(n, width)`` float64 encoding; ``rng`` draws each value's mixture mode."""
        df = self.check_schema(read_table(df))
        rng = np.random.default_rng(self.seed) if rng is None else rng
        parts = [col.transform(df[col.name], rng) for col in self.columns_]
        return np.concatenate(parts, axis=1) if parts else np.zeros((len(df), 0))

    def inverse_transform(self, M: np.ndarray, calibration: dict | None = None) -> pd.DataFrame:
        """A DataFrame with the training columns, dtypes and levels from an encoded matrix;
        ``calibration`` maps number columns' names to their quantile maps (see
        :func:`~genlearn.tabular.columns.calibrate`)."""
        M = np.asarray(M, dtype=np.float64)
        if M.ndim != 2 or M.shape[1] != self.width:
            raise ValueError(f"expected an encoded matrix of shape (n, {self.width}); got "
                             f"{M.shape}")
        out = {}
        for name, (start, w) in self.spans().items():
            col, block = self.column(name), M[:, start:start + w]
            if calibration and name in calibration:
                out[name] = col.inverse(block, calibration[name]).reset_index(drop=True)
            else:
                out[name] = col.inverse(block).reset_index(drop=True)
        return pd.DataFrame(out)

    # -- state ------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"format_version": FORMAT_VERSION, "columns": self.columns,
                "normalization": self.normalization, "seed": self.seed, "n_rows": self.n_rows_,
                "fitted": [c.to_json() for c in self.columns_]}

    @classmethod
    def from_json(cls, d: dict) -> TableTransformer:
        if d.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported table transformer format {d.get('format_version')!r}")
        self = cls(d["columns"], d["normalization"], d["seed"])
        self.columns_ = [COLUMN_TYPES[c["kind"]].from_json(c) for c in d["fitted"]]
        self.n_rows_ = d["n_rows"]
        return self
