import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from scipy.stats.contingency import association

from genlearn.metrics import tabular as mt


def frame(n, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    a = rng.normal(shift, 1, n)
    b = a + rng.normal(0, 0.5, n)
    c = np.where(a + rng.normal(0, 0.5, n) > 0, "yes", "no")
    return pd.DataFrame({"a": a, "b": b, "c": c, "d": rng.choice(["u", "v", "w"], n)})


def test_column_shapes_against_scipy_and_hand():
    r, s = frame(300, 0), frame(200, 1, shift=0.5)
    out = mt.column_shapes(r, s)
    assert out["columns"]["a"] == pytest.approx(1 - ks_2samp(r.a, s.a).statistic)
    p, q = r.d.value_counts(normalize=True), s.d.value_counts(normalize=True)
    tv = 0.5 * sum(abs(p.get(k, 0) - q.get(k, 0)) for k in ["u", "v", "w"])
    assert out["columns"]["d"] == pytest.approx(1 - tv)
    assert out["score"] == pytest.approx(np.mean(list(out["columns"].values())))
    assert mt.column_shapes(r, r)["score"] == 1.0


def test_missing_counts_as_a_level():
    r = pd.DataFrame({"c": ["x", "x", None, None]})
    s = pd.DataFrame({"c": ["x", "x", "x", "x"]})
    assert mt.column_shapes(r, s, kinds={"c": "categorical"})["columns"]["c"] == 0.5


def test_pair_trends_against_numpy_and_scipy():
    r, s = frame(400, 0), frame(400, 1)
    s["b"] = s["b"].sample(frac=1, random_state=0).to_numpy()  # break a-b in synthetic
    out = mt.pair_trends(r, s)
    ra, sa = np.corrcoef(r.a, r.b)[0, 1], np.corrcoef(s.a, s.b)[0, 1]
    assert out["pairs"]["a | b"] == pytest.approx(1 - abs(ra - sa) / 2)
    vr = association(pd.crosstab(r.c, r.d).to_numpy(), method="cramer")
    vs = association(pd.crosstab(s.c, s.d).to_numpy(), method="cramer")
    assert out["pairs"]["c | d"] == pytest.approx(1 - abs(vr - vs))
    assert mt.pair_trends(r, r)["score"] == pytest.approx(1.0)


def test_tstr_on_real_rows_equals_trtr_and_errors():
    tr, te = frame(300, 0), frame(200, 1)
    out = mt.tstr(tr, tr, te, target="c")
    assert out["real"] == out["synthetic"]
    assert out["real"]["roc_auc"] > 0.8
    shuffled = tr.assign(c=tr.c.sample(frac=1, random_state=0).to_numpy())
    assert mt.tstr(tr, shuffled, te, target="c")["synthetic"]["roc_auc"] < 0.7
    with pytest.raises(ValueError, match="single class"):
        mt.tstr(tr, tr.assign(c="yes"), te, target="c")
    with pytest.raises(ValueError, match="target column 'z'"):
        mt.tstr(tr, tr, te, target="z")
    with pytest.raises(ValueError, match=r"missing \['d'\]"):
        mt.tstr(tr, tr.drop(columns="d"), te, target="c")


def test_detection_near_half_for_same_distribution_and_one_for_shifted():
    r = frame(1000, 0)
    assert abs(mt.detection(r, frame(1000, 1))["accuracy"] - 0.5) < 0.06
    assert mt.detection(r, frame(1000, 1, shift=3.0))["accuracy"] > 0.9


def test_privacy_exact_copies_and_brute_force_dcr():
    tr, ho = frame(60, 0), frame(40, 1)
    syn = pd.concat([tr.iloc[:10], frame(30, 2)], ignore_index=True)
    out = mt.privacy(tr, syn, ho)
    assert out["exact_copies"] == pytest.approx(10 / 40)
    kinds = mt.column_kinds(tr)
    d = mt.closest_distances(ho, tr, kinds)
    span = {c: tr[c].max() - tr[c].min() for c in ["a", "b"]}
    for i in range(5):
        q = ho.iloc[i]
        brute = min((abs(q.a - t.a) / span["a"] + abs(q.b - t.b) / span["b"]
                     + (q.c != t.c) + (q.d != t.d)) / 4 for t in tr.itertuples())
        assert d[i] == pytest.approx(brute)
    assert out["dcr_holdout_median"] == pytest.approx(np.median(d))
