"""One strategy class per column type: detection, encoding to network inputs, and back.

Each column encodes to a few *blocks* of the model's input/output row: ``("tanh", 1)`` or
``("linear", 1)`` for a normalised number and ``("softmax", k)`` for a one-hot choice (a
category, a mixture mode, or "value present / missing"). Missing values are their own one-hot
slot (categories) or a present/missing block (numbers), so a model reproduces their share and
how they go with the other columns. Decoding takes the argmax of each softmax block, clips
numbers to the training minimum and maximum, rounds integers and restores the dtype.

Types (``kind``): ``continuous``, ``integer``, ``datetime``, ``categorical``, ``boolean`` and
``constant`` (a column with one value or none; it is reproduced as it was, with its missing share).
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from .normalizers import NORMALIZERS

KINDS = ("continuous", "integer", "datetime", "categorical", "boolean", "constant")


def _py(value):
    """A JSON-able Python scalar for a level (numpy and pandas scalars unwrapped)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _level_key(value):
    return (type(value).__name__, value)


def detect_kind(series: pd.Series) -> str:
    """The column type :class:`TableTransformer` gives ``series`` unless told otherwise."""
    values = series.dropna()
    if values.empty or values.nunique() == 1:
        return "constant"
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        x = values.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"column {series.name!r} holds infinite values; replace them with "
                             "missing values (NaN) or finite numbers")
        return "integer" if np.all(x == np.round(x)) else "continuous"
    kinds = {"bool" if isinstance(v, (bool, np.bool_)) else
             "number" if isinstance(v, numbers.Number) else
             "text" if isinstance(v, str) else type(v).__name__ for v in values}
    if kinds == {"text"}:
        return "categorical"
    if kinds == {"bool"}:
        return "boolean"
    if len(kinds) > 1:
        raise ValueError(f"column {series.name!r} mixes value types ({', '.join(sorted(kinds))}); "
                         "convert it to one type, or pass columns={"
                         f"{series.name!r}: 'categorical'}} to keep each value as a level")
    raise ValueError(f"column {series.name!r} has values of type {kinds.pop()}, which genlearn "
                     "cannot model; convert it to numbers, text or datetimes")


def _restore_dtype(values, dtype: str, categories=None) -> pd.Series:
    """Build a Series of the recorded ``dtype`` (missing values as the dtype's missing)."""
    if dtype == "category":
        return pd.Series(pd.Categorical(values, categories=categories))
    if dtype in ("int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64"):
        arr = np.asarray(values, dtype=np.float64)
        if np.isnan(arr).any():  # only a column that had missing values can give them back
            return pd.Series(arr)
        return pd.Series(arr.astype(dtype))
    if dtype == "bool":
        arr = pd.Series(values, dtype=object)
        return arr.astype(bool) if not arr.isna().any() else arr.astype("boolean")
    return pd.Series(values).astype(dtype)


def calibrate(x: np.ndarray, model_q, real_q) -> np.ndarray:
    """F_real^-1(F_model(x)) with both functions given by quantiles at equally spaced levels;
    a repeated model quantile sends its values to the middle of its run (as QuantileNormalizer).
    NaN stays NaN."""
    mq, rq = np.asarray(model_q), np.asarray(real_q)
    refs = np.linspace(0.0, 1.0, len(mq))
    u = 0.5 * (np.interp(x, mq, refs) - np.interp(-x, -mq[::-1], -refs[::-1]))
    return np.where(np.isnan(x), np.nan, np.interp(u, np.linspace(0.0, 1.0, len(rq)), rq))


class Column:
    """Base class: ``fit`` on a Series, ``transform`` to blocks, ``inverse`` back to a Series."""

    kind = ""

    def __init__(self, name: str):
        self.name = name

    def blocks(self) -> list[tuple[str, int]]:
        raise NotImplementedError

    @property
    def width(self) -> int:
        return sum(w for _, w in self.blocks())

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, **self._state()}

    @classmethod
    def from_json(cls, d: dict) -> Column:
        col = COLUMN_TYPES[d["kind"]](d["name"])
        col._load(d)
        return col


class NumericColumn(Column):
    """A continuous number; ``integer`` rounds back; missing values get a present/missing block."""

    kind = "continuous"

    def fit(self, series: pd.Series, *, normalization: str = "mode",
            seed: int = 0) -> NumericColumn:
        self.dtype = str(series.dtype)
        x = self._to_float(series)
        ok = ~np.isnan(x)
        if not np.all(np.isfinite(x[ok])):
            raise ValueError(f"column {self.name!r} holds infinite values; replace them with "
                             "missing values (NaN) or finite numbers")
        self.has_missing = bool((~ok).any())
        self.min, self.max = float(x[ok].min()), float(x[ok].max())
        self.fill = float(np.median(x[ok]))
        self.normalizer = NORMALIZERS[normalization]().fit(x[ok], seed)
        return self

    def _to_float(self, series: pd.Series) -> np.ndarray:
        try:
            return pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        except (ValueError, TypeError):
            raise ValueError(f"column {self.name!r} is declared {self.kind} but holds values "
                             "that are not numbers") from None

    def _from_float(self, x: np.ndarray) -> pd.Series:
        if self.kind == "integer":
            x = np.round(x)
        return _restore_dtype(x, self.dtype)

    def blocks(self) -> list[tuple[str, int]]:
        return self.normalizer.blocks() + ([("softmax", 2)] if self.has_missing else [])

    def transform(self, series: pd.Series, rng: np.random.Generator) -> np.ndarray:
        x = self._to_float(series)
        miss = np.isnan(x)
        if miss.any() and not self.has_missing:
            raise ValueError(f"column {self.name!r} has missing values, but had none when fitted")
        out = self.normalizer.transform(np.where(miss, self.fill, x), rng)
        if self.has_missing:
            out = np.column_stack([out, ~miss, miss]).astype(np.float64)
        return out

    def decode_float(self, block: np.ndarray) -> np.ndarray:
        """The encoded block as floats (NaN where missing), before bounds and rounding."""
        w = self.normalizer.width
        x = self.normalizer.inverse(block[:, :w])
        if self.has_missing:
            x = np.where(block[:, w + 1] > block[:, w], np.nan, x)
        return x

    def inverse(self, block: np.ndarray, calibration: dict | None = None) -> pd.Series:
        """Decode; ``calibration`` ({"model": quantiles, "real": quantiles}) first maps each
        value through the real column's quantile function at the model's CDF value."""
        x = self.decode_float(block)
        if calibration is not None:
            x = calibrate(x, calibration["model"], calibration["real"])
        return self._from_float(np.clip(x, self.min, self.max))

    def _state(self) -> dict:
        return {"dtype": self.dtype, "has_missing": self.has_missing, "min": self.min,
                "max": self.max, "fill": self.fill, "normalizer": self.normalizer.to_json()}

    def _load(self, d: dict) -> None:
        self.dtype, self.has_missing = d["dtype"], d["has_missing"]
        self.min, self.max, self.fill = d["min"], d["max"], d["fill"]
        norm = d["normalizer"]
        self.normalizer = NORMALIZERS[norm["name"]].from_json(norm)


class IntegerColumn(NumericColumn):
    kind = "integer"


class DatetimeColumn(NumericColumn):
    """Seconds since 1970 as a number; rounded back to the coarsest step that fits all values
    (a day, an hour, a minute or a second); the time zone is kept."""

    kind = "datetime"
    _STEPS = (86400.0, 3600.0, 60.0, 1.0)

    def fit(self, series, *, normalization="mode", seed=0):
        s = self._as_datetime(series)
        self.tz = None if s.dt.tz is None else str(s.dt.tz)
        x = self._seconds(s)
        ok = x[~np.isnan(x)]
        self.step = next((st for st in self._STEPS if np.all(np.mod(ok, st) == 0)), 0.0)
        super().fit(series, normalization=normalization, seed=seed)
        return self

    def _as_datetime(self, series: pd.Series) -> pd.Series:
        try:
            return pd.to_datetime(series)
        except (ValueError, TypeError):
            raise ValueError(f"column {self.name!r} is declared datetime but holds values that "
                             "are not dates") from None

    @staticmethod
    def _seconds(s: pd.Series) -> np.ndarray:
        if s.dt.tz is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        delta = (s - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)
        return delta.to_numpy(dtype=np.float64, na_value=np.nan)

    def _to_float(self, series):
        return self._seconds(self._as_datetime(series))

    def _from_float(self, x):
        if self.step:
            x = np.round(x / self.step) * self.step
        s = pd.Series(pd.to_datetime(x, unit="s"))
        if self.tz is not None:
            s = s.dt.tz_localize("UTC").dt.tz_convert(self.tz)
        return s.astype(self.dtype)

    def _state(self):
        return {**super()._state(), "tz": self.tz, "step": self.step}

    def _load(self, d):
        super()._load(d)
        self.tz, self.step = d["tz"], d["step"]


class CategoricalColumn(Column):
    """One-hot over the levels seen in training (rare ones kept) plus a missing slot."""

    kind = "categorical"

    def fit(self, series: pd.Series, **_) -> CategoricalColumn:
        self.dtype = str(series.dtype)
        values = series.dropna()
        if isinstance(series.dtype, pd.CategoricalDtype):
            self.categories = [_py(c) for c in series.cat.categories]
            present = set(values.unique())
            self.levels = [c for c in self.categories if c in present]
        else:
            self.categories = None
            self.levels = sorted({_py(v) for v in values.unique()}, key=_level_key)
        self.has_missing = bool(series.isna().any())
        return self

    def blocks(self):
        return [("softmax", len(self.levels) + int(self.has_missing))]

    def codes(self, series: pd.Series) -> np.ndarray:
        """Index of each value's level; the missing slot is ``len(levels)``."""
        lookup = {_level_key(v): i for i, v in enumerate(self.levels)}
        miss = series.isna().to_numpy()
        codes = np.full(len(series), len(self.levels), dtype=np.int64)
        unknown = []
        for i, v in enumerate(series.to_numpy(dtype=object)):
            if not miss[i]:
                j = lookup.get(_level_key(_py(v)))
                if j is None:
                    unknown.append(v)
                else:
                    codes[i] = j
        if unknown:
            raise ValueError(f"column {self.name!r} has level(s) not seen when fitted: "
                             f"{sorted(map(str, set(unknown)))[:5]}")
        if miss.any() and not self.has_missing:
            raise ValueError(f"column {self.name!r} has missing values, but had none when fitted")
        return codes

    def transform(self, series, rng):
        out = np.zeros((len(series), self.width))
        out[np.arange(len(series)), self.codes(series)] = 1.0
        return out

    def inverse(self, block):
        k = np.argmax(block, axis=1)
        table = np.array(self.levels + [None], dtype=object)
        values = table[k]
        if self.has_missing:
            values = np.where(k == len(self.levels), np.nan, values)
        return _restore_dtype(values, self.dtype, self.categories)

    def _state(self):
        return {"dtype": self.dtype, "levels": self.levels, "categories": self.categories,
                "has_missing": self.has_missing}

    def _load(self, d):
        self.dtype, self.levels = d["dtype"], d["levels"]
        self.categories, self.has_missing = d["categories"], d["has_missing"]


class BooleanColumn(CategoricalColumn):
    kind = "boolean"


class ConstantColumn(Column):
    """A column with at most one distinct value: reproduced as is, missing share included."""

    kind = "constant"

    def fit(self, series: pd.Series, **_) -> ConstantColumn:
        self.dtype = str(series.dtype)
        values = series.dropna()
        self.value = None if values.empty else _py(values.iloc[0])
        self.has_missing = bool(series.isna().any()) and self.value is not None
        return self

    def blocks(self):
        return [("softmax", 2)] if self.has_missing else []

    def transform(self, series, rng):
        values = series.dropna()
        if self.value is not None and (values.nunique() > 1 or (
                len(values) and _py(values.iloc[0]) != self.value)):
            raise ValueError(f"column {self.name!r} was constant ({self.value!r}) when fitted "
                             "but now holds other values")
        if not self.has_missing:
            return np.zeros((len(series), 0))
        miss = series.isna().to_numpy()
        return np.column_stack([~miss, miss]).astype(np.float64)

    def inverse(self, block):
        n = len(block)
        if self.value is None:
            values = np.full(n, np.nan)
        else:
            values = np.array([self.value] * n, dtype=object)
            if self.has_missing:
                values = np.where(block[:, 1] > block[:, 0], np.nan, values)
        try:
            return _restore_dtype(values, self.dtype)
        except (ValueError, TypeError):  # an all-missing column of a dtype that needs values
            return pd.Series(values)

    def _state(self):
        return {"dtype": self.dtype, "value": self.value, "has_missing": self.has_missing}

    def _load(self, d):
        self.dtype, self.value, self.has_missing = d["dtype"], d["value"], d["has_missing"]


COLUMN_TYPES = {cls.kind: cls for cls in (NumericColumn, IntegerColumn, DatetimeColumn,
                                          CategoricalColumn, BooleanColumn, ConstantColumn)}
