"""The one sequence parser (genlearn.sequences) and the SequenceModel base."""

import math

import numpy as np
import pandas as pd
import pytest

from genlearn.sequences import SequenceModel, parse_sequences, vocabulary_size


def lens(X, lengths=None, **kw):
    return parse_sequences(X, lengths, **kw).lengths.tolist()


def test_the_accepted_forms_agree():
    a, b = np.array([0, 1, 2]), np.array([3, 4])
    listed = parse_sequences([a, b])
    concat = parse_sequences(np.concatenate([a, b]), [3, 2])
    column = parse_sequences(np.concatenate([a, b])[:, None], [3, 2])
    series = parse_sequences(pd.Series([a, b]))
    for p in (concat, column, series):
        assert p.lengths.tolist() == [3, 2]
        assert all(np.array_equal(x, y) for x, y in zip(p.seqs, listed.seqs, strict=True))
        assert p.seqs[0].dtype == np.int64
    assert parse_sequences([0, 1, 2]).single and lens([0, 1, 2]) == [3]
    assert lens(np.zeros((3, 5), int)) == [5, 5, 5]  # (n, T): n sequences
    assert lens(np.zeros((5, 1), int)) == [5]  # a column is one sequence
    assert lens(pd.Series([0, 1, 2])) == [3] and lens(pd.DataFrame({"a": [0, 1]})) == [2]
    assert lens(np.array([0.0, 2.0])) == [2]  # integral floats are symbols


def test_continuous_forms():
    assert lens(np.zeros((5, 2)), kind="continuous") == [5]
    assert lens(np.zeros((3, 5, 2)), kind="continuous") == [5, 5, 5]
    assert lens(np.zeros((6, 2)), [2, 4], kind="continuous") == [2, 4]
    p = parse_sequences(pd.DataFrame({"a": [0.1, 2], "b": [1.0, 3]}), kind="continuous")
    assert p.seqs[0].shape == (2, 2)
    assert parse_sequences([np.zeros(4)], kind="continuous").seqs[0].shape == (4, 1)


@pytest.mark.parametrize("X, lengths, kw, message", [
    (None, None, {}, "is None"),
    ([], None, {}, "empty"),
    (np.zeros(0, int), None, {}, "empty"),
    ([np.array([], int)], None, {}, "length 0"),
    ([np.array([1.0, np.nan])], None, {}, "NaN"),
    ([np.array([1.5])], None, {}, "integers"),
    ([np.array([1, -1]), [2]], None, {}, r"sequence 0, position 1\) has the negative"),
    ([np.array([1, 5])], None, {"n_symbols": 3}, "outside the vocabulary of 3"),
    (np.arange(4), [1, 2], {}, "sum to 3"),
    (np.arange(4), [4, 0], {}, "sequence 1 has length 0"),
    (np.arange(4), [2.5, 1.5], {}, "lengths must be integers"),
    ("abc", None, {}, "string"),
    ([np.array(["a", "b"])], None, {}, "np.unique"),
    (pd.DataFrame({"a": [0, 2], "b": [1, 3]}), None, {}, "2 columns"),
    (pd.Series(["a", "b"], dtype="category"), None, {}, "cat.codes"),
    ([np.zeros((3, 2)), np.zeros((3, 3))], None, {"kind": "continuous"}, "sequence 1 has 3 feat"),
    ([np.zeros((3, 2))], None, {"kind": "continuous", "n_features": 3}, "the model has 3"),
    ([np.array([[0.0, np.inf]])], None, {"kind": "continuous"}, "NaN or infinite"),
    ([np.zeros((2, 2, 2))], None, {"kind": "continuous"}, "must be 2-D"),
])
def test_bad_input_is_a_clear_error(X, lengths, kw, message):
    with pytest.raises(ValueError, match=message):
        parse_sequences(X, lengths, **kw)


def test_vocabulary_size_refuses_implausible_ids():
    assert vocabulary_size(np.array([0, 1, 5])) == 6
    assert vocabulary_size(np.array([0, 1]), 10) == 10
    assert vocabulary_size(np.array([0, 1023])) == 1024
    with pytest.raises(ValueError, match=r"symbol 1000000000 but only 3 distinct.*np.unique"):
        vocabulary_size(np.array([0, 1, 10**9]))
    with pytest.raises(ValueError, match="n_symbols=4"):
        vocabulary_size(np.array([0, 4]), 4)


class Uniform(SequenceModel):
    """p(x) = V^-T: a model whose bits per symbol is log2 V."""

    conditional, has_likelihood, resumable, epoch_trained = False, True, False, False

    def __init__(self, V=4):
        self.V = V

    def fit(self, X, lengths=None):
        self.n_symbols_ = vocabulary_size(self._parse(X, lengths, fitting=True).flat, self.V)
        self.is_fitted_ = True
        return self

    def log_prob(self, X, lengths=None):
        return -self._parse(X, lengths).lengths * math.log(self.V)

    def sample(self, n, length, *, seed=None, prompt=None, temperature=1.0):
        return list(np.random.default_rng(seed).integers(0, self.V, (n, length)))

    def _get_state(self):
        return {"n_symbols_": self.n_symbols_}, {}

    def _set_state(self, meta, tensors):
        self.n_symbols_, self.is_fitted_ = meta["n_symbols_"], True


def test_base_bits_per_symbol_score_and_evaluate():
    m = Uniform(8).fit([[0, 1, 7]])
    X = [np.array([0, 1]), np.array([2, 3, 4, 5])]
    assert m.bits_per_symbol(X) == pytest.approx(3.0)
    assert m.bits_per_symbol(np.array([0, 1, 2, 3, 4, 5]), [2, 4]) == pytest.approx(3.0)
    assert m.score(X) == pytest.approx(-3 * math.log(8))
    r = m.evaluate(X)
    assert r["bits_per_symbol"] == pytest.approx(3.0) and r["n"] == 2
    assert m.input_kind == "sequences"
    with pytest.raises(ValueError, match="outside the vocabulary of 8"):
        m.log_prob([[9]])


FORMS = [
    ([np.array([0, 1, 2]), np.array([2, 1])], None, 2),
    (np.array([0, 1, 2, 2, 1]), [3, 2], 2),
    (np.array([[0], [1], [2], [2], [1]]), [3, 2], 2),
    ([0, 1, 2, 2, 1], None, 1),
    (np.array([[0, 1, 2], [2, 1, 0]]), None, 2),
    (pd.Series([np.array([0, 1]), np.array([2, 1, 0])]), None, 2),
    (pd.Series([0, 1, 2]), None, 1),
]
BAD = [([], None), ([np.array([0, -1])], None), ([np.array([0.5])], None),
       (np.arange(3), [1, 1]), (pd.DataFrame({"a": [0, 1], "b": [1, 0]}), None),
       ([np.array([0, 9])], None)]


@pytest.mark.filterwarnings("ignore:EM did not converge")
def test_the_hmm_and_the_ngram_read_sequences_by_the_same_rules():
    """Issue 10: they used to parse with different rules; now both use parse_sequences."""
    from genlearn.models.hmm import HMM
    from genlearn.models.ngram import NGram

    train = [np.array([0, 1, 2, 1, 0, 2])]
    hmm = HMM(n_states=2, n_iter=1, verbose=False, device="cpu").fit(train)
    ngram = NGram(order=2, verbose=False).fit(train)
    for X, lengths, n in FORMS:
        assert len(hmm.log_prob(X, lengths)) == len(ngram.log_prob(X, lengths)) == n
    for X, lengths in BAD:
        messages = []
        for model in (hmm, ngram):
            with pytest.raises(ValueError) as err:
                model.log_prob(X, lengths)
            messages.append(str(err.value))
        assert messages[0] == messages[1]
