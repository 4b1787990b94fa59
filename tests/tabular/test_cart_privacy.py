"""CART's privacy settings: ``min_leaf`` (leaf size) and ``smoothing`` (kernel noise on numbers)."""

import numpy as np
import pandas as pd
import pytest

import genlearn as gl
from genlearn.metrics import tabular as mt
from genlearn.tabular import TabularSynthesizer
from genlearn.tabular.cart import leaf_bandwidths

from .conftest import make_table


def test_leaf_bandwidths_against_numpy_per_leaf():
    rng = np.random.default_rng(0)
    count = np.array([0, 4, 1, 7, 0, 3])
    first = np.cumsum(count) - count
    values = rng.normal(size=count.sum())
    got = leaf_bandwidths({"values": values, "first": first, "count": count})
    for j, (f, c) in enumerate(zip(first, count, strict=True)):
        want = 1.06 * np.std(values[f:f + c]) * c ** -0.2 if c > 1 else 0.0
        assert got[j] == pytest.approx(want, abs=1e-12)


def test_min_leaf_sets_the_smallest_leaf():
    df = make_table(200)
    for leaf in (5, 20):
        syn = TabularSynthesizer(min_leaf=leaf, seed=0).fit(df)
        for arrays in syn.backends_[0].trees[1:]:
            leaves = arrays["left"] < 0
            assert arrays["count"][leaves].min() >= leaf


def test_smoothing_moves_numbers_off_training_values_and_keeps_types_and_levels(tmp_path):
    df = make_table(300)
    train = np.sort(df["x"].to_numpy())

    def off(x):  # distance of each synthetic x to the nearest training x
        i = np.clip(np.searchsorted(train, x), 1, len(train) - 1)
        return np.minimum(np.abs(x - train[i - 1]), np.abs(x - train[i]))

    plain = TabularSynthesizer(seed=0, calibrate=False).fit(df).sample(400)
    smooth = TabularSynthesizer(smoothing=1.0, seed=0, calibrate=False).fit(df)
    out = smooth.sample(400)
    # without smoothing CART's numbers are training values; with it, almost none are
    assert (off(plain["x"].to_numpy()) < 1e-6).mean() > 0.99
    assert (off(out["x"].to_numpy()) < 1e-6).mean() < 0.05
    assert (out.dtypes == df.dtypes).all()
    assert set(out["color"].dropna()) <= set(df["color"].dropna())
    assert out["x"].between(df["x"].min(), df["x"].max()).all()
    # the closest-record distance grows (Gower, to the training rows)
    kinds = mt.column_kinds(df)
    d_plain = np.median(mt.closest_distances(plain, df, kinds))
    d_smooth = np.median(mt.closest_distances(out, df, kinds))
    assert d_smooth > d_plain
    smooth.save(tmp_path / "ck")
    pd.testing.assert_frame_equal(gl.load(tmp_path / "ck").sample(50, seed=3),
                                  smooth.sample(50, seed=3))


def test_privacy_setting_errors():
    with pytest.raises(ValueError, match="smoothing must be a number >= 0"):
        TabularSynthesizer(smoothing=-1.0)
    with pytest.raises(ValueError, match="min_leaf must be a positive integer"):
        TabularSynthesizer(min_leaf=0)
    with pytest.raises(ValueError, match="apply to model='cart' only"):
        TabularSynthesizer(model="copula", smoothing=0.5)
