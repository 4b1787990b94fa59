"""CART's privacy settings: ``min_leaf`` (leaf size) and ``smoothing`` (kernel noise on numbers)."""

import warnings

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


def few_values_table(n=300, seed=0) -> pd.DataFrame:
    """Few distinct values per column (d rounded to 0.01), so CART, which draws training values
    from small leaves, makes rows that equal a training row (14% of them with seed 0)."""
    rng = np.random.default_rng(seed)
    a = rng.choice(["x", "y", "z"], n)
    return pd.DataFrame({"a": pd.Series(a, dtype="str"), "b": rng.random(n) < 0.4,
                         "c": rng.integers(0, 4, n) + (a == "x"),
                         "d": np.round(rng.normal(0, 1, n) + (a == "y"), 2)})


def test_row_hashes_agree_with_row_equality():
    from genlearn.tabular.transformer import row_hashes

    df = few_values_table(200)
    df.loc[3, "d"] = np.nan
    df.loc[7] = df.loc[3]
    df.loc[[10, 11], "d"] = [0.0, -0.0]  # equal as numbers
    df.loc[11, ["a", "b", "c"]] = df.loc[10, ["a", "b", "c"]]
    h = row_hashes(df)
    assert h.dtype == np.uint64 and len(h) == len(df)
    keys = [tuple("nan" if isinstance(v, float) and np.isnan(v) else v for v in row)
            for row in df.itertuples(index=False)]
    assert keys[10] == keys[11] and h[10] == h[11]
    for i in range(len(df)):  # equal hashes exactly where the rows are equal, by brute force
        same_rows = {j for j in range(len(df)) if keys[j] == keys[i]}
        assert {j for j in range(len(df)) if h[j] == h[i]} == same_rows
    np.testing.assert_array_equal(row_hashes(df.set_index(np.arange(len(df)) + 1000)), h)


def test_no_synthetic_row_equals_a_training_row_unless_allowed(tmp_path):
    df = few_values_table()
    allowing = gl.TabularSynthesizer(model="cart", seed=0, allow_copies=True).fit(df)
    allowed = allowing.sample(500)
    assert mt.privacy(df, allowed, df)["exact_copies"] > 0.1  # the table invites copies
    syn = gl.TabularSynthesizer(model="cart", seed=0).fit(df)
    with pytest.warns(UserWarning, match=r"\(14%\) equalled a training row and were drawn again"):
        fake = syn.sample(500)
    assert mt.privacy(df, fake, df)["exact_copies"] == 0
    assert (fake.dtypes == df.dtypes).all() and len(fake) == 500
    with pytest.warns(UserWarning, match="drawn again"):  # still the same table, same seed
        pd.testing.assert_frame_equal(fake, gl.TabularSynthesizer(model="cart", seed=0).fit(df)
                                      .sample(500))
    # every possible row of this table is a training row: the copies are left, with a warning
    tiny = pd.DataFrame({"a": pd.Series(["x", "y"] * 10, dtype="str"), "b": [True, False] * 10})
    with pytest.warns(UserWarning, match="5 of 5 synthetic rows still equal a training row"):
        gl.TabularSynthesizer(model="cart", seed=0).fit(tiny).sample(5)
    # a table with continuous columns: no copies, and the same rows as with allow_copies
    t = make_table(200)
    plain = gl.TabularSynthesizer(model="copula", seed=1).fit(t).sample(300)
    assert mt.privacy(t, plain, t)["exact_copies"] == 0
    pd.testing.assert_frame_equal(plain, gl.TabularSynthesizer(model="copula", seed=1,
                                  allow_copies=True).fit(t).sample(300))
    # the hashes travel with the checkpoint; a checkpoint without them does not reject
    syn.save(tmp_path / "syn")
    again = gl.load(tmp_path / "syn")
    np.testing.assert_array_equal(again.row_hashes_, syn.row_hashes_)
    with pytest.warns(UserWarning, match="drawn again"):
        pd.testing.assert_frame_equal(again.sample(200, seed=4), syn.sample(200, seed=4))


def test_a_checkpoint_without_row_hashes_warns_samples_with_copies_and_saves(tmp_path,
                                                                            monkeypatch):
    df = few_values_table()
    syn = gl.TabularSynthesizer(model="cart", seed=0).fit(df)
    get_state = TabularSynthesizer._get_state

    def old_writer(self):  # the checkpoints written before allow_copies had no row hashes
        meta, tensors = get_state(self)
        tensors.pop("row_hashes")
        return meta, tensors

    monkeypatch.setattr(TabularSynthesizer, "_get_state", old_writer)
    syn.save(tmp_path / "old")
    monkeypatch.undo()
    with pytest.warns(UserWarning, match="holds no training-row hashes"):
        old = gl.load(tmp_path / "old")
    assert old.row_hashes_ is None
    allowing = gl.TabularSynthesizer(model="cart", seed=0, allow_copies=True).fit(df)
    pd.testing.assert_frame_equal(old.sample(200, seed=4), allowing.sample(200, seed=4))
    old.save(tmp_path / "again")  # and it saves again, still without hashes
    with pytest.warns(UserWarning, match="holds no training-row hashes"):
        assert gl.load(tmp_path / "again").row_hashes_ is None


def test_redrawn_rows_keep_their_class_and_the_conditions():
    df = few_values_table()
    for kw in (dict(target="a"), {}):
        syn = gl.TabularSynthesizer(model="cart", seed=2, **kw).fit(df)
        allowing = gl.TabularSynthesizer(model="cart", seed=2, allow_copies=True, **kw).fit(df)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            fake = syn.sample(400, conditions={"b": True})
            kept = allowing.sample(400, conditions={"b": True})
        left = [int(str(w.message).split()[0]) for w in caught if "still equal" in str(w.message)]
        assert fake["b"].all()  # the conditions hold for the redrawn rows too
        copies = mt.privacy(df, fake, df)["exact_copies"] * len(fake)
        assert copies == sum(left) and copies < 0.1 * mt.privacy(df, kept, df)["exact_copies"] \
            * len(kept)  # the copies left are the ones the warning counts, and few
        if kw:  # with target, each class keeps the count its model was given
            pd.testing.assert_series_equal(fake["a"].value_counts().sort_index(),
                                           kept["a"].value_counts().sort_index())
    with pytest.raises(ValueError, match="allow_copies must be True or False"):
        gl.TabularSynthesizer(allow_copies="no")
