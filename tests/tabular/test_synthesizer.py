import json

import numpy as np
import pandas as pd
import pytest

import genlearn as gl
from genlearn.tabular import TabularSynthesizer

TINY = dict(epochs=2, batch_size=40, hidden=(16,), latent_dim=4)


def tiny(model, **kw):
    return TabularSynthesizer(model=model, **({} if model in ("copula", "cart") else TINY), **kw)


@pytest.mark.parametrize("model", ["vae", "gan", "copula", "cart"])
def test_sample_has_training_columns_types_and_levels(table, model):
    syn = tiny(model, seed=0).fit(table)
    out = syn.sample(200)
    assert list(out.columns) == list(table.columns) and len(out) == 200
    assert (out.dtypes == table.dtypes).all()
    for c in ["color", "y"]:
        assert set(out[c].dropna()) <= set(table[c].dropna())
    assert set(out["size"].dropna()) <= {"S", "M", "L"}
    assert list(out["size"].cat.categories) == ["S", "M", "L", "XL"]
    for c in ["age", "income", "x"]:
        v = out[c].dropna()
        assert v.min() >= table[c].min() and v.max() <= table[c].max()
    assert np.all(out["income"].dropna() % 1 == 0)
    assert out["age"].isna().sum() == 0  # no missing values where training had none
    assert (out["const"] == 7).all() and out["empty"].isna().all()
    assert (out["day"].dt.normalize() == out["day"]).all()  # dates stay whole days


@pytest.mark.parametrize("model", ["vae", "gan", "copula", "cart"])
def test_same_seed_same_table_bit_for_bit(table, model):
    a = tiny(model, seed=5).fit(table).sample(100)
    b = tiny(model, seed=5).fit(table).sample(100)
    pd.testing.assert_frame_equal(a, b)
    c = tiny(model, seed=6).fit(table).sample(100)
    assert not a.equals(c)


def test_sample_calls_differ_but_replay(table):
    syn = tiny("copula", seed=1).fit(table)
    first, second = syn.sample(50), syn.sample(50)
    assert not first.equals(second)
    pd.testing.assert_frame_equal(syn.sample(50, seed=9), syn.sample(50, seed=9))


def test_copula_reproduces_missing_share_and_category_frequencies(table):
    big = pd.concat([table] * 5, ignore_index=True)
    out = tiny("copula", seed=0).fit(big).sample(4000)
    assert abs(out["income"].isna().mean() - big["income"].isna().mean()) < 0.03
    assert abs(out["color"].isna().mean() - big["color"].isna().mean()) < 0.03
    real = big["y"].value_counts(normalize=True)
    fake = out["y"].value_counts(normalize=True)
    assert abs(real["pos"] - fake["pos"]) < 0.03
    # In the data y == 'pos' exactly when x > 0. The copula's normal scores of x and y then
    # have correlation E|z| E|z| = 2/pi (y's score is drawn inside its half), and a bivariate
    # normal with correlation r has P(same sign) = 1 - arccos(r) / pi = 0.720.
    agree = ((out["x"] > 0) == (out["y"] == "pos")).mean()
    assert abs(agree - (1 - np.arccos(2 / np.pi) / np.pi)) < 0.03


@pytest.mark.parametrize("model", ["vae", "gan", "copula", "cart"])
def test_conditions(table, model):
    syn = tiny(model, seed=0).fit(table)
    out = syn.sample(60, conditions={"y": "neg", "flag": True})
    assert (out["y"] == "neg").all() and out["flag"].all() and len(out) == 60


def test_condition_errors(table):
    syn = tiny("copula", seed=0).fit(table)
    with pytest.raises(ValueError, match="unknown column 'Status'"):
        syn.sample(5, conditions={"Status": "bad"})
    with pytest.raises(ValueError, match="'maybe' is not a level"):
        syn.sample(5, conditions={"y": "maybe"})
    with pytest.raises(ValueError, match="'x' \\(continuous\\) are not supported"):
        syn.sample(5, conditions={"x": 1.0})


def test_rare_condition_that_never_comes_says_so(table, monkeypatch):
    import genlearn.tabular.synthesizer as mod

    syn = tiny("copula", seed=0).fit(table)
    monkeypatch.setattr(mod, "MAX_REJECTION_ROUNDS", 1)
    with pytest.raises(ValueError, match="could not draw 5000 rows"):
        syn.sample(5000, conditions={"color": "violet"})


@pytest.mark.parametrize("model", ["vae", "gan", "copula", "cart"])
def test_save_load_round_trip(table, model, tmp_path):
    syn = tiny(model, seed=0).fit(table)
    syn.save(tmp_path / "ck")
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["config.json",
                                                                   "weights.safetensors"]
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert cfg["model"] == "tabular" and cfg["state"]["transformer"]["fitted"]
    back = gl.load(tmp_path / "ck")
    pd.testing.assert_frame_equal(back.sample(80, seed=2), syn.sample(80, seed=2))


def test_csv_path_and_param_errors(table, tmp_path):
    path = tmp_path / "t.csv"
    table[["x", "age", "y"]].to_csv(path, index=False)
    out = tiny("copula", seed=0).fit(str(path)).sample(10)
    assert list(out.columns) == ["x", "age", "y"]
    with pytest.raises(ValueError, match="model must be one of"):
        TabularSynthesizer(model="diffusion")
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        TabularSynthesizer(epochs=0)
    with pytest.raises(ValueError, match="normalization='mode' does not fit"):
        TabularSynthesizer(model="copula", normalization="mode")
    with pytest.raises(TypeError, match="no tractable likelihood"):
        tiny("copula").fit(table).log_prob(table)
    with pytest.raises(gl.NotFittedError):
        TabularSynthesizer().sample(3)


def test_calibrate_map_against_hand_values():
    from genlearn.tabular.columns import calibrate

    q = np.linspace(0, 10, 11)
    np.testing.assert_allclose(calibrate(np.array([0.0, 3.5, 10.0]), q, q), [0.0, 3.5, 10.0])
    # model uniform on [0, 1], real uniform on [100, 200]: x -> 100 + 100 x; NaN stays NaN
    out = calibrate(np.array([0.25, np.nan, 0.9]), np.linspace(0, 1, 5), np.linspace(100, 200, 3))
    np.testing.assert_allclose(out, [125.0, np.nan, 190.0])


def test_calibration_brings_an_undertrained_model_onto_the_real_marginal(table):
    from genlearn.metrics.tabular import ks_complement

    raw = tiny("vae", seed=0, calibrate=False).fit(table).sample(400, seed=1)
    cal = tiny("vae", seed=0, calibrate=True).fit(table).sample(400, seed=1)
    for c in ["x", "age"]:
        assert ks_complement(table[c], cal[c]) > ks_complement(table[c], raw[c])
        assert ks_complement(table[c], cal[c]) > 0.85


@pytest.mark.parametrize("model", ["vae", "copula"])
def test_target_fits_one_model_per_class(table, model, tmp_path):
    syn = tiny(model, seed=0, target="y").fit(table)
    assert syn.group_counts_ == [int((table.y == "neg").sum()), int((table.y == "pos").sum())]
    out = syn.sample(1000)
    share = (out["y"] == "pos").mean()
    assert abs(share - (table.y == "pos").mean()) < 0.05
    neg = syn.sample(50, conditions={"y": "neg"})
    assert (neg["y"] == "neg").all()
    syn.save(tmp_path / "ck")
    back = gl.load(tmp_path / "ck")
    pd.testing.assert_frame_equal(back.sample(30, seed=4), syn.sample(30, seed=4))


def test_target_errors(table):
    with pytest.raises(ValueError, match="target 'nope' is not a column"):
        tiny("copula", target="nope").fit(table)
    with pytest.raises(ValueError, match="target 'x' is a continuous column"):
        tiny("copula", target="x").fit(table)
    with pytest.raises(ValueError, match="target 'const'"):
        tiny("copula", target="const").fit(table)
    one = table[table.y == "pos"]
    with pytest.raises(ValueError, match="target 'y' is a constant column"):
        tiny("copula", target="y").fit(one)
    with pytest.raises(ValueError, match="single class"):
        tiny("copula", target="y", columns={"y": "categorical"}).fit(one)


def test_cart_tree_descent_matches_scikit_learn():
    from sklearn.tree import DecisionTreeRegressor

    from genlearn.tabular.cart import apply_tree

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 4)), rng.normal(size=300)
    t = DecisionTreeRegressor(min_samples_leaf=5, random_state=0).fit(X, y).tree_
    arrays = {"left": t.children_left, "right": t.children_right, "feature": t.feature,
              "threshold": t.threshold}
    Xq = rng.normal(size=(200, 4))
    np.testing.assert_array_equal(apply_tree(arrays, Xq),
                                  t.apply(Xq.astype(np.float32)))


def test_cart_keeps_a_deterministic_relation(table):
    # y == 'pos' exactly when x > 0: the tree for y splits on x and reproduces it
    out = tiny("cart", seed=0, calibrate=False).fit(table).sample(500)
    assert ((out["x"] > 0) == (out["y"] == "pos")).mean() > 0.97
