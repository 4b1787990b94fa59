import numpy as np
import pandas as pd
import pytest


def make_table(n=120, seed=0) -> pd.DataFrame:
    """A small mixed table: numbers with missing values, categories (one seen once), a
    boolean, dates, a constant and an all-missing column; 'y' depends on 'x'."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(-3, 0.5, n // 2), rng.normal(4, 1.0, n - n // 2)])
    income = rng.integers(100, 900, n).astype(np.float64)
    income[rng.random(n) < 0.25] = np.nan
    color = rng.choice(["red", "green", "blue"], n).astype(object)
    color[0] = "violet"  # a level seen once
    color[rng.random(n) < 0.1] = None
    return pd.DataFrame({
        "x": x,
        "age": rng.integers(18, 70, n),
        "income": income,
        "color": pd.Series(color, dtype="str"),
        "size": pd.Categorical(rng.choice(["S", "M", "L"], n), categories=["S", "M", "L", "XL"]),
        "flag": rng.random(n) < 0.3,
        "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
        "const": 7,
        "empty": np.full(n, np.nan),
        "y": np.where(x > 0, "pos", "neg"),
    })


@pytest.fixture
def table():
    return make_table()
