"""The issue's Bad input list, the cases not covered beside the feature they touch.

Covered elsewhere: all-missing and single-value columns kept as they were for every model
(test_synthesizer::test_sample_has_training_columns_types_and_levels), a level seen once kept
(test_transformer::test_round_trip_exact_for_levels_and_integers), a target with one class
(test_synthesizer::test_target_errors, test_metrics, test_cli_augment), mixed types
(test_transformer::test_mixed_types_error_and_override), an unknown column in ``conditions``
(test_synthesizer::test_condition_errors), another schema at transform time and non-UTF-8 CSVs
at fit time (test_transformer, test_cli_augment).
"""

import numpy as np
import pandas as pd
import pytest

from genlearn.cli import main
from genlearn.tabular import TabularSynthesizer

from .conftest import make_table


def test_evaluate_with_another_schema_names_the_columns(table):
    syn = TabularSynthesizer(model="copula", seed=0).fit(table)
    with pytest.raises(ValueError, match=r"missing \['y'\], unexpected \['z'\]"):
        syn.evaluate(table.drop(columns="y").assign(z=1.0))


def test_evaluate_with_a_non_utf8_csv_says_so(table, tmp_path, capsys):
    syn = TabularSynthesizer(model="copula", seed=0).fit(table)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("x,y\n\xe9,1\n".encode("latin-1"))
    with pytest.raises(ValueError, match="is not UTF-8"):
        syn.evaluate(str(latin))
    real = tmp_path / "real.csv"
    table[["x", "y"]].to_csv(real, index=False)
    assert main(["augment", "evaluate", str(real), str(latin)]) == 1
    assert "is not UTF-8" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["cart", "copula"])
def test_target_class_seen_once_is_drawn_at_its_frequency(model):
    df = make_table(200)[["x", "age", "color", "y"]]
    df.loc[5, "y"] = "rare"  # one row of a third class
    with pytest.warns(UserWarning, match="target class 'rare' has 1 training row"):
        syn = TabularSynthesizer(model=model, target="y", seed=0).fit(df)
    assert syn.group_counts_[sorted(df.y.unique()).index("rare")] == 1
    out = syn.sample(4000)
    assert set(out["y"]) <= set(df["y"])
    assert 5 < (out["y"] == "rare").sum() < 40  # binomial(4000, 1/200): 20 expected
    rare = syn.sample(10, conditions={"y": "rare"})
    assert (rare["y"] == "rare").all()
    if model == "cart":  # as the warning says: a one-row class's rows are that row
        assert np.allclose(rare["x"], df.loc[5, "x"]) and (rare["age"] == df.loc[5, "age"]).all()


def test_sample_at_a_new_schema_cannot_happen_and_conditions_on_a_number_are_refused(table):
    syn = TabularSynthesizer(model="cart", seed=0).fit(table)
    with pytest.raises(ValueError, match=r"conditions on column 'x' \(continuous\)"):
        syn.sample(5, conditions={"x": 1.0})
    with pytest.raises(ValueError, match="not a level of the column"):
        syn.sample(5, conditions={"y": np.int64(3)})
    out = syn.sample(50)
    assert list(out.columns) == list(table.columns)
    pd.testing.assert_series_equal(out.dtypes, table.dtypes)
