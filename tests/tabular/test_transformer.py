import json

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import QuantileTransformer

from genlearn.tabular import TableTransformer
from genlearn.tabular.columns import detect_kind
from genlearn.tabular.normalizers import ModeNormalizer, QuantileNormalizer


def test_detected_types(table):
    tr = TableTransformer(normalization="quantile").fit(table)
    kinds = {c.name: c.kind for c in tr.columns_}
    assert kinds == {"x": "continuous", "age": "integer", "income": "integer",
                     "color": "categorical", "size": "categorical", "flag": "boolean",
                     "day": "datetime", "const": "constant", "empty": "constant",
                     "y": "categorical"}


@pytest.mark.parametrize("normalization", ["mode", "quantile"])
def test_round_trip_exact_for_levels_and_integers(table, normalization):
    tr = TableTransformer(normalization=normalization).fit(table)
    M = tr.transform(table)
    assert M.shape == (len(table), tr.width)
    back = tr.inverse_transform(M)
    assert list(back.columns) == list(table.columns)
    assert (back.dtypes == table.dtypes).all()
    for c in ["age", "income", "color", "size", "flag", "day", "const", "empty", "y"]:
        pd.testing.assert_series_equal(back[c], table[c], check_names=False)
    # continuous: exact up to the 1e-7 clipping of the extreme quantiles
    np.testing.assert_allclose(back["x"], table["x"], rtol=1e-5)
    assert list(back["size"].cat.categories) == ["S", "M", "L", "XL"]
    assert "violet" in tr.column("color").levels  # a level seen once is kept


def test_json_state_round_trip(table):
    tr = TableTransformer(normalization="mode", seed=3).fit(table)
    tr2 = TableTransformer.from_json(json.loads(json.dumps(tr.to_json())))
    rng1, rng2 = np.random.default_rng(1), np.random.default_rng(1)
    np.testing.assert_array_equal(tr.transform(table, rng1), tr2.transform(table, rng2))


def test_quantile_matches_scikit_learn():
    x = np.random.default_rng(0).gamma(2.0, size=700)
    ours = QuantileNormalizer(n_quantiles=200).fit(x, 0).transform(x, None)[:, 0]
    ref = QuantileTransformer(n_quantiles=200, output_distribution="normal",
                              subsample=None).fit_transform(x[:, None])[:, 0]
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_mode_normalizer_finds_two_modes_and_inverts():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-5, 0.3, 400), rng.normal(5, 0.3, 600)])
    norm = ModeNormalizer().fit(x, seed=0)
    big = sorted(m for m, w in zip(norm.means_, norm.weights_, strict=True) if w > 0.1)
    assert len(big) == 2 and abs(big[0] + 5) < 0.2 and abs(big[1] - 5) < 0.2
    enc = norm.transform(x, rng)
    assert np.all(enc[:, 1:].sum(axis=1) == 1)
    np.testing.assert_allclose(norm.inverse(enc), x, atol=1e-9)


def test_mixed_types_error_and_override():
    df = pd.DataFrame({"a": pd.Series([1, "x", 2.5, "y"] * 5, dtype=object),
                       "b": range(20)})
    with pytest.raises(ValueError, match="'a' mixes value types"):
        TableTransformer().fit(df)
    tr = TableTransformer(columns={"a": "categorical"}, normalization="quantile").fit(df)
    back = tr.inverse_transform(tr.transform(df))
    assert back["a"].tolist() == df["a"].tolist()


def test_bad_override_names_field_and_column(table):
    with pytest.raises(ValueError, match=r"columns\['x'\] must be one of"):
        TableTransformer(columns={"x": "money"})
    with pytest.raises(ValueError, match="not in the table"):
        TableTransformer(columns={"nope": "integer"}).fit(table)
    with pytest.raises(ValueError, match="'color' is declared integer"):
        TableTransformer(columns={"color": "integer"}).fit(table)


def test_schema_and_level_checks(table):
    tr = TableTransformer(normalization="quantile").fit(table)
    with pytest.raises(ValueError, match=r"missing \['y'\], unexpected \['z'\]"):
        tr.transform(table.drop(columns="y").assign(z=1))
    other = table.copy()
    other.loc[3, "y"] = "zero"
    with pytest.raises(ValueError, match="'y' has level"):
        tr.transform(other)
    with pytest.raises(ValueError, match="'age' has missing values"):
        tr.transform(table.assign(age=np.where(np.arange(len(table)) == 0, np.nan, table.age)))


def test_csv_errors(tmp_path):
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("name,v\nJos\xe9,1\n".encode("latin-1"))
    with pytest.raises(ValueError, match="is not UTF-8"):
        TableTransformer().fit(str(bad))
    with pytest.raises(ValueError, match="no such file"):
        TableTransformer().fit(str(tmp_path / "none.csv"))
    with pytest.raises(ValueError, match="has no rows"):
        TableTransformer().fit(pd.DataFrame({"a": []}))


def test_detect_kind_of_whole_floats_and_infinite():
    assert detect_kind(pd.Series([1.0, 2.0, np.nan])) == "integer"
    assert detect_kind(pd.Series([1.5, 2.0])) == "continuous"
    with pytest.raises(ValueError, match="infinite"):
        detect_kind(pd.Series([1.5, np.inf]))
