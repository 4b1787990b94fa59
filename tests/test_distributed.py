"""genlearn.distributed and the HMM / n-gram fits across processes (issue 15).

Each test spawns two gloo processes on localhost itself (genlearn.distributed.spawn_for_test)
on tiny data; the one-process fit is the reference.
"""

import warnings

import numpy as np
import pytest
import torch

from genlearn import distributed
from genlearn.models.hmm import HMM
from genlearn.models.ngram import NGram


def test_helpers_are_the_identity_without_a_process_group():
    assert not distributed.is_distributed()
    assert (distributed.rank(), distributed.world_size()) == (0, 1)
    assert distributed.shard([1, 2, 3]) == [1, 2, 3]
    rows = np.arange(6).reshape(3, 2)
    assert distributed.shard(rows) is not rows and np.array_equal(distributed.shard(rows), rows)
    stats = {"a": torch.arange(3.0)}
    assert torch.equal(distributed.all_reduce_sum(stats)["a"], stats["a"])
    distributed.check_same(5, "X")
    a = np.arange(6)
    assert distributed.fingerprint(a) == distributed.fingerprint(a.copy())
    assert distributed.fingerprint(a) != distributed.fingerprint(a[::-1])
    assert distributed.fingerprint(a) != distributed.fingerprint(a.astype(np.int32))


def data():
    rng = np.random.default_rng(0)
    cat = [rng.integers(0, 4, size=int(n)) for n in rng.integers(5, 40, size=9)]
    gauss = [rng.normal(size=(int(n), 2)) + 2 * (rng.random() > 0.5) for n in
             rng.integers(5, 40, size=7)]
    return cat, gauss


def fit_models(cat, gauss):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = HMM(n_states=3, n_iter=15, tol=-np.inf, verbose=False, device="cpu").fit(cat)
        g = HMM(n_states=2, emission="gaussian", covariance_type="full", n_iter=10,
                tol=-np.inf, verbose=False, device="cpu").fit(gauss)
    ng = NGram(order=3, verbose=False).fit(cat)
    return ({n: getattr(c, n + "_") for n in ("startprob", "transmat", "emissionprob")},
            [r["log_likelihood"] for r in c.history_],
            {n: getattr(g, n + "_") for n in ("startprob", "transmat", "means", "covars")},
            [k.copy() for k in ng.ngram_keys_], [k.copy() for k in ng.ngram_counts_],
            ng.log_prob(cat))


def _own_parts(rank, cat, gauss, path):
    """Each rank holds only its own part (distributed.Sharded), read from a file for the
    categorical sequences."""
    lines = distributed.read_lines(path)
    mine = [np.array(line.split(), dtype=np.int64) for line in lines.part]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = HMM(n_states=3, n_iter=15, tol=-np.inf, verbose=False, device="cpu").fit(
            distributed.Sharded(mine))
        g = HMM(n_states=2, emission="gaussian", covariance_type="full", n_iter=10, tol=-np.inf,
                verbose=False, device="cpu").fit(distributed.Sharded(gauss[rank::2]))
    ng = NGram(order=3, verbose=False).fit(distributed.Sharded(mine))
    table = distributed.read_csv(path.replace("seqs.txt", "table.csv"), chunksize=4)
    return (lines.part, table.part["a"].tolist(),
            {n: getattr(c, n + "_") for n in ("startprob", "transmat", "emissionprob")},
            {n: getattr(g, n + "_") for n in ("startprob", "transmat", "means", "covars")},
            [k.copy() for k in ng.ngram_keys_], [k.copy() for k in ng.ngram_counts_],
            ng.log_prob(cat), (ng.n_sequences_, ng.n_train_symbols_, ng.n_symbols_seen_))


def _on_rank(rank, cat, gauss, path):
    """Everything the two-process tests check, in one spawn (starting processes is slow)."""
    fits = fit_models(cat, gauss)
    own = _own_parts(rank, cat, gauss, path)
    errors = []
    hmm = HMM(n_states=2, n_iter=2, verbose=False, device="cpu")
    for fault in (lambda: hmm.fit(cat[:1]),  # more processes than sequences
                  lambda: hmm.fit(cat if rank == 0 else cat[::-1]),
                  lambda: NGram(verbose=False).fit(cat if rank == 0 else cat[:-1])):
        try:
            fault()
            errors.append(None)
        except ValueError as exc:  # raised on every rank at the same point: nobody hangs
            errors.append(str(exc))
    return fits, [distributed.shard(list(range(5))), distributed.shard(np.arange(10).reshape(5, 2))
                  .tolist()], errors, own


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    cat, gauss = data()
    path = tmp_path_factory.mktemp("corpus") / "seqs.txt"
    path.write_text("\n".join(" ".join(map(str, s)) for s in cat) + "\n")
    (path.parent / "table.csv").write_text("a,b\n" + "".join(f"{i},x{i}\n" for i in range(11)))
    return fit_models(cat, gauss), distributed.spawn_for_test(_on_rank, 2, cat, gauss, str(path))


def test_two_processes_fit_what_one_process_fits(two_ranks):
    one, ranks = two_ranks
    for got, _, _, _ in ranks:
        for params, ref in ((got[0], one[0]), (got[2], one[2])):
            for name, value in params.items():
                np.testing.assert_allclose(value, ref[name], rtol=0, atol=1e-10, err_msg=name)
        np.testing.assert_allclose(got[1], one[1], rtol=1e-12)  # the same EM trajectory
        for a, b in zip(got[3] + got[4], one[3] + one[4], strict=True):
            np.testing.assert_array_equal(a, b)  # n-gram counts merged exactly
        np.testing.assert_array_equal(got[5], one[5])
    for name in one[0]:  # every rank holds the very same parameters
        np.testing.assert_array_equal(ranks[0][0][0][name], ranks[1][0][0][name])


def test_shards_and_faults(two_ranks):
    _, ranks = two_ranks
    assert [r[1][0] for r in ranks] == [[0, 2, 4], [1, 3]]
    assert [r[1][1] for r in ranks] == [[[0, 1], [4, 5], [8, 9]], [[2, 3], [6, 7]]]  # rows
    for _, _, (empty, mismatch, ngram_mismatch), _ in ranks:
        assert "1 sequences cannot be shared among 2 processes" in empty
        assert "X differs across the 2 processes" in mismatch
        assert "X differs across the 2 processes" in ngram_mismatch


def _fails_on_rank_1(rank):
    if rank == 1:
        raise ValueError("rank 1 broke")
    return rank


def test_spawn_reports_a_failing_rank():
    with pytest.raises(RuntimeError, match="rank 1: ValueError: rank 1 broke"):
        distributed.spawn_for_test(_fails_on_rank_1, 2, timeout_s=60)


def test_ranks_holding_only_their_own_part_fit_what_one_process_fits_on_all(two_ranks):
    one, ranks = two_ranks
    cat, _ = data()
    (lines0, rows0, c0, g0, *_), (lines1, rows1, c1, g1, *_) = (r[3] for r in ranks)
    assert (rows0, rows1) == ([0, 2, 4, 6, 8, 10], [1, 3, 5, 7, 9])  # across chunks of 4
    # read_lines: rank r holds lines r, r + 2, ...; together they are the file
    assert lines0 == [" ".join(map(str, s)) for s in cat[0::2]]
    assert lines1 == [" ".join(map(str, s)) for s in cat[1::2]]
    for name, value in one[0].items():  # categorical: data-free start, EM over all the parts
        np.testing.assert_allclose(c0[name], value, rtol=0, atol=1e-10, err_msg=name)
        np.testing.assert_array_equal(c0[name], c1[name])
    for name in g0:  # Gaussian: rank 0's k-means start, then the same EM everywhere
        assert np.all(np.isfinite(g0[name]))
        np.testing.assert_array_equal(g0[name], g1[name])
    for r in ranks:  # the n-gram: counts of all the parts, merged exactly
        _, _, _, _, keys, counts, log_prob, totals = r[3]
        for a, b in zip(keys + counts, one[3] + one[4], strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(log_prob, one[5])
        assert totals == (len(cat), sum(len(s) for s in cat), len(np.unique(np.concatenate(cat))))


def test_sharded_outside_a_process_group_is_the_whole_data():
    cat, _ = data()
    a = NGram(order=2, verbose=False).fit(distributed.Sharded(cat))
    b = NGram(order=2, verbose=False).fit(cat)
    np.testing.assert_array_equal(a.log_prob(cat), b.log_prob(cat))
    assert distributed.own_part(distributed.Sharded(cat)) == (cat, False)
