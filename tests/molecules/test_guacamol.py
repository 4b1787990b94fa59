"""The published GuacaMol table as transcribed, and the comparison with it."""

import numpy as np
import pytest

from genlearn.molecules.guacamol import (
    COLUMNS,
    MPO_TASKS,
    PUBLISHED,
    PUBLISHED_TOTALS,
    SMARTS_TASKS,
    TASKS,
    compare_with_published,
)
from genlearn.molecules.objectives import OBJECTIVES


def test_each_column_sums_to_the_published_total():
    # a mistyped cell would break its column's total
    assert len(PUBLISHED) == 20
    for col in COLUMNS:
        assert sum(PUBLISHED[t][col] for t in TASKS) == pytest.approx(PUBLISHED_TOTALS[col],
                                                                      abs=1e-9)
    # the totals the issue quotes (two decimals)
    for col, total in (("best_of_dataset", 12.14), ("smiles_lstm", 17.34),
                       ("smiles_ga", 14.40), ("graph_ga", 17.98)):
        assert PUBLISHED_TOTALS[col] == pytest.approx(total, abs=0.005)


def test_every_mpo_and_smarts_task_is_an_objective():
    assert all(f"guacamol:{t}" in OBJECTIVES for t in MPO_TASKS + SMARTS_TASKS)
    # with cns_mpo (not in Table 2), every one of the 20 tasks of Table 2 is an objective
    assert all(f"guacamol:{t}" in OBJECTIVES for t in TASKS)


def test_compare_with_published_uses_the_guacamol_score():
    scores = np.r_[0.9, np.full(9, 0.85), np.full(90, 0.8), np.full(50, 0.1)]
    out = compare_with_published("osimertinib_mpo", scores)
    expected = np.mean([0.9, (0.9 + 9 * 0.85) / 10, (0.9 + 9 * 0.85 + 90 * 0.8) / 100])
    assert out["score"] == pytest.approx(expected)
    assert out["beats_best_of_dataset"] == (expected > 0.839)
    assert out["published_smiles_ga"] == 0.886
    with pytest.raises(ValueError, match="unknown GuacaMol task"):
        compare_with_published("nope", scores)
