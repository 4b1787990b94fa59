"""The n-gram model against hand-worked numbers, a slow dict-based reference, and bad input."""

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from sklearn.base import clone

import genlearn as gl
from genlearn.models.ngram import NGram
from genlearn.sequences import parse_sequences

SMOOTHINGS = ("kneser-ney", "witten-bell", "add-k")


def random_seqs(V, n, max_len, seed):
    rng = np.random.default_rng(seed)
    # a skewed source, so counts differ between symbols
    p = rng.dirichlet(np.ones(V) * 0.7)
    return [rng.choice(V, size=int(rng.integers(1, max_len + 1)), p=p) for _ in range(n)]


def all_contexts(V, order):
    """Every context a caller can give: lengths 0..order-1 (the short ones are BOS-padded)."""
    for L in range(order):
        yield from (list(c) for c in itertools.product(range(V), repeat=L))


# -- a slow, obvious reference: tuples in Counters, the recursion written out ---------------------
def reference_log_proba(seqs, order, V, smoothing, context, D=0.75, k=1.0):
    """log p(. | context) computed from the definitions with dicts, one symbol at a time."""
    BOS, W = "<s>", order - 1
    raw = [Counter() for _ in range(order)]  # raw[j][(history of length j, w)]
    for s in seqs:
        padded = [BOS] * W + [int(x) for x in s]
        for t in range(W, len(padded)):
            for j in range(order):
                raw[j][(tuple(padded[t - j:t]), padded[t])] += 1
    cont = [Counter() for _ in range(order)]  # cont[j][(h, w)] = N1+(. h w)
    for j in range(order - 1):
        for (h, w) in raw[j + 1]:
            cont[j][(h[1:], w)] += 1

    def count(j, h, w):
        if smoothing == "kneser-ney" and j < order - 1 and not (h and h[0] == BOS):
            return cont[j][(h, w)]
        return raw[j][(h, w)]

    def prob(j, h, w):
        if j < 0:
            return 1.0 / V
        lower = prob(j - 1, h[1:], w)
        if smoothing == "add-k":
            if j < order - 1:
                return 1.0 / V  # only the full order counts
            total = sum(count(j, h, v) for v in range(V))
            return (count(j, h, w) + k) / (total + k * V)
        if j >= 2 and h[0] == BOS and h[1] == BOS:
            return lower  # the sequence start is one context
        cs = [count(j, h, v) for v in range(V)]
        total, types = sum(cs), sum(c > 0 for c in cs)
        if total == 0:
            return lower
        if smoothing == "kneser-ney":
            return (max(cs[w] - D, 0) + D * types * lower) / total
        return (cs[w] + types * lower) / (total + types)

    h = tuple(([BOS] * W + list(context))[len(context):]) if W else ()
    return np.log([prob(order - 1, h, w) for w in range(V)])


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_matches_slow_reference_for_every_context(smoothing, order):
    V = 3
    seqs = random_seqs(V, 12, 9, seed=order)
    model = NGram(order=order, smoothing=smoothing, discount=0.6, k=0.5, n_symbols=V,
                  verbose=False).fit(seqs)
    for ctx in all_contexts(V, order):
        ref = reference_log_proba(seqs, order, V, smoothing, ctx, D=0.6, k=0.5)
        np.testing.assert_allclose(model.next_log_proba(ctx), ref, rtol=0, atol=1e-12,
                                   err_msg=f"context {ctx}")


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("V", [3, 4])
def test_every_conditional_sums_to_one(smoothing, V):
    # n_symbols above the largest symbol seen: the unseen symbol must still get mass
    seqs = random_seqs(V - 1, 30, 15, seed=V)
    for order in (1, 2, 3, 4):
        model = NGram(order=order, smoothing=smoothing, n_symbols=V, verbose=False).fit(seqs)
        for ctx in all_contexts(V, order):
            p = np.exp(model.next_log_proba(ctx))
            assert p.shape == (V,)
            assert abs(p.sum() - 1.0) < 1e-12, (order, ctx)
            assert np.all(p > 0), (order, ctx)


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_log_prob_is_the_sum_of_next_log_proba(smoothing):
    V = 4
    model = NGram(order=3, smoothing=smoothing, n_symbols=V, verbose=False)
    model.fit(random_seqs(V, 40, 20, seed=1))
    test = random_seqs(V, 10, 25, seed=2)
    slow = [sum(model.next_log_proba(s[:t])[s[t]] for t in range(len(s))) for s in test]
    np.testing.assert_allclose(model.log_prob(test), slow, rtol=1e-12)
    assert model.score(test) == pytest.approx(np.mean(slow), rel=1e-12)
    n = sum(len(s) for s in test)
    assert model.bits_per_symbol(test) == pytest.approx(-sum(slow) / n / math.log(2), rel=1e-12)


def test_context_longer_than_the_order_uses_its_tail():
    model = NGram(order=3, verbose=False).fit(random_seqs(4, 20, 20, seed=3))
    np.testing.assert_array_equal(model.next_log_proba([0, 1, 2, 3, 1]),
                                  model.next_log_proba([3, 1]))
    assert not np.allclose(model.next_log_proba([3, 1]), model.next_log_proba([1]))


# -- hand-worked examples -------------------------------------------------------------------------
# corpus [0, 1, 1], [1, 0] over V = 3; its bigrams (BOS = "B"):
#   B->0, 0->1, 1->1 ; B->1, 1->0      so c(B .) = 2, c(0 .) = 1, c(1 .) = 2, c(2 .) = 0
CORPUS = [np.array([0, 1, 1]), np.array([1, 0])]


def test_add_k_bigram_by_hand():
    model = NGram(order=2, smoothing="add-k", k=0.5, n_symbols=3, verbose=False).fit(CORPUS)
    # p(w | h) = (c(h w) + 0.5) / (c(h .) + 1.5)
    p0_B = (1 + 0.5) / (2 + 1.5)  # p(0 | B)
    p1_0 = (1 + 0.5) / (1 + 1.5)  # p(1 | 0) = 0.6
    p2_1 = (0 + 0.5) / (2 + 1.5)  # p(2 | 1)
    p2_2 = 1 / 3  # history 2 never seen: uniform
    assert model.log_prob([[0, 1, 2, 2]])[0] == pytest.approx(
        math.log(p0_B * p1_0 * p2_1 * p2_2), rel=1e-12)
    np.testing.assert_allclose(np.exp(model.next_log_proba([0])), [0.2, 0.6, 0.2], rtol=1e-12)


def test_kneser_ney_bigram_by_hand():
    model = NGram(order=2, smoothing="kneser-ney", discount=0.75, n_symbols=3,
                  verbose=False).fit(CORPUS)
    # unigram continuation counts N1+(. w): 0 follows {B, 1} -> 2, 1 follows {B, 0, 1} -> 3,
    # 2 -> 0; N1+(. .) = 5 bigram types, 2 symbols with a count:
    #   p1(w) = max(N1+(. w) - 0.75, 0) / 5 + 0.75 * 2 / 5 * 1/3
    p1 = np.array([1.25 / 5 + 0.1, 2.25 / 5 + 0.1, 0.1])  # [0.35, 0.55, 0.1]
    # p(w | 1): c(1 0) = c(1 1) = 1, c(1 .) = 2, N1+(1 .) = 2
    p_1 = np.array([0.25, 0.25, 0.0]) / 2 + 0.75 * 2 / 2 * p1  # [0.3875, 0.5375, 0.075]
    # p(w | 0): c(0 1) = 1, c(0 .) = 1, N1+(0 .) = 1
    p_0 = np.array([0.0, 0.25, 0.0]) + 0.75 * p1  # [0.2625, 0.6625, 0.075]
    np.testing.assert_allclose(np.exp(model.next_log_proba([1])), p_1, rtol=1e-12)
    np.testing.assert_allclose(np.exp(model.next_log_proba([0])), p_0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(model.next_log_proba([])), p_1, rtol=1e-12)  # B as 1
    np.testing.assert_allclose(np.exp(model.next_log_proba([2])), p1, rtol=1e-12)  # unseen
    # p(0 | B) p(1 | 0) p(2 | 1) p(2 | 2)
    assert model.log_prob([[0, 1, 2, 2]])[0] == pytest.approx(
        math.log(0.3875 * 0.6625 * 0.075 * 0.1), rel=1e-12)


def test_unigram_add_k_is_smoothed_frequencies():
    seqs = random_seqs(5, 20, 10, seed=4)
    model = NGram(order=1, smoothing="add-k", k=0.3, n_symbols=6, verbose=False).fit(seqs)
    counts = np.bincount(np.concatenate(seqs), minlength=6)
    expected = (counts + 0.3) / (counts.sum() + 0.3 * 6)
    for ctx in ([], [1], [4, 2]):  # a unigram ignores its context
        np.testing.assert_allclose(np.exp(model.next_log_proba(ctx)), expected, rtol=1e-12)


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_sequence_start_is_one_context_at_every_order(smoothing):
    """The first symbol's distribution does not depend on how many BOS marks pad it."""
    seqs = random_seqs(4, 30, 12, seed=5)
    first = [np.exp(NGram(order=n, smoothing=smoothing, verbose=False).fit(seqs)
                    .next_log_proba([])) for n in (2, 3, 5)]
    np.testing.assert_allclose(first[1], first[0], rtol=1e-12)
    np.testing.assert_allclose(first[2], first[0], rtol=1e-12)


def test_does_not_depend_on_sequence_order():
    seqs = random_seqs(4, 30, 12, seed=6)
    a = NGram(order=3, verbose=False).fit(seqs)
    b = NGram(order=3, verbose=False).fit(seqs[::-1])
    test = random_seqs(4, 5, 12, seed=7)
    np.testing.assert_array_equal(a.log_prob(test), b.log_prob(test))


# -- learning -------------------------------------------------------------------------------------
def noisy_pattern(n, seed, noise=0.1):
    """0 1 0 2 0 3 repeated: what follows 0 depends on the symbol before it."""
    rng = np.random.default_rng(seed)
    x = np.tile([0, 1, 0, 2, 0, 3], n // 6 + 1)[:n]
    flip = rng.random(n) < noise
    x[flip] = rng.integers(0, 5, size=flip.sum())
    return x


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_higher_order_and_more_data_lower_held_out_bits(smoothing):
    train, test = noisy_pattern(20000, seed=0), [noisy_pattern(3000, seed=1)]
    bits = [NGram(order=n, smoothing=smoothing, n_symbols=5, verbose=False).fit([train])
            .bits_per_symbol(test) for n in (1, 2, 3)]
    assert bits[0] > bits[1] + 0.1 and bits[1] > bits[2] + 0.1
    small = NGram(order=3, smoothing=smoothing, n_symbols=5, verbose=False).fit([train[:60]])
    assert small.bits_per_symbol(test) > bits[2] + 0.05


# -- sampling -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted():
    return NGram(order=3, n_symbols=5, verbose=False).fit(
        [noisy_pattern(40, seed=s, noise=0.3) for s in range(50)])


def tv(samples, log_p):
    freq = np.bincount(samples, minlength=log_p.size) / samples.size
    return 0.5 * np.abs(freq - np.exp(log_p)).sum()


def test_samples_follow_the_conditionals(fitted):
    x = np.array(fitted.sample(20000, 2, seed=0))
    assert x.shape == (20000, 2) and x.dtype == np.int64
    assert tv(x[:, 0], fitted.next_log_proba([])) < 0.03
    a = np.bincount(x[:, 0]).argmax()  # the second symbol follows the first
    assert tv(x[x[:, 0] == a, 1], fitted.next_log_proba([a])) < 0.03


def test_prompt_is_the_context(fitted):
    for prompt in ([1, 0], [4, 2, 0]):
        x = np.array(fitted.sample(20000, 1, seed=1, prompt=prompt))[:, 0]
        assert tv(x, fitted.next_log_proba(prompt)) < 0.03
    # the two prompts give different distributions, so the test can tell them apart
    assert 0.5 * np.abs(np.exp(fitted.next_log_proba([1, 0]))
                        - np.exp(fitted.next_log_proba([2, 0]))).sum() > 0.2


def test_temperature(fitted):
    log_p = fitted.next_log_proba([1, 0])
    cold = np.array(fitted.sample(500, 1, seed=2, prompt=[1, 0], temperature=1e-3))[:, 0]
    assert np.all(cold == log_p.argmax())
    half = np.array(fitted.sample(20000, 1, seed=3, prompt=[1, 0], temperature=0.5))[:, 0]
    sharp = 2 * log_p - np.logaddexp.reduce(2 * log_p)  # p^2 renormalised
    assert tv(half, sharp) < 0.03 and tv(half, log_p) > 0.05


def test_seed_repeats(fitted):
    a, b = fitted.sample(5, 30, seed=7), fitted.sample(5, 30, seed=7)
    assert len(a) == 5 and all(s.shape == (30,) for s in a)
    assert all(np.array_equal(s, t) for s, t in zip(a, b, strict=True))
    c = fitted.sample(5, 30, seed=8)
    assert not all(np.array_equal(s, t) for s, t in zip(a, c, strict=True))


# -- data formats, checkpoints, clone -------------------------------------------------------------
def test_concatenated_with_lengths_equals_list():
    seqs = random_seqs(4, 15, 10, seed=8)
    lengths = [len(s) for s in seqs]
    X = np.concatenate(seqs)
    test = random_seqs(4, 6, 10, seed=9)
    a = NGram(order=3, verbose=False).fit(seqs)
    b = NGram(order=3, verbose=False).fit(X, lengths)
    c = NGram(order=3, verbose=False).fit(X.reshape(-1, 1).astype(float), lengths)
    for m in (b, c):
        for j in range(3):
            np.testing.assert_array_equal(m.ngram_keys_[j], a.ngram_keys_[j])
            np.testing.assert_array_equal(m.ngram_counts_[j], a.ngram_counts_[j])
        np.testing.assert_array_equal(m.log_prob(test), a.log_prob(test))
    np.testing.assert_array_equal(
        a.log_prob(np.concatenate(test), [len(s) for s in test]), a.log_prob(test))
    split = parse_sequences(X, lengths).seqs
    assert all(np.array_equal(s, t) for s, t in zip(split, seqs, strict=True))
    # a flat list or 1-D array without lengths is one sequence
    assert len(parse_sequences([0, 1, 2])) == 1 and len(parse_sequences(np.arange(4))) == 1


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_save_load_identical(tmp_path, smoothing):
    seqs = random_seqs(6, 30, 20, seed=10)
    model = NGram(order=4, smoothing=smoothing, n_symbols=8, verbose=False).fit(seqs)
    model.save(tmp_path / "ng")
    back = gl.load(tmp_path / "ng")
    assert isinstance(back, NGram) and back.get_params() == model.get_params()
    test = random_seqs(8, 10, 20, seed=11)
    np.testing.assert_array_equal(back.log_prob(test), model.log_prob(test))
    np.testing.assert_array_equal(back.next_log_proba([5, 1]), model.next_log_proba([5, 1]))
    assert back.n_symbols_ == 8 and back.n_symbols_seen_ == model.n_symbols_seen_ == 6
    assert back.evaluate(test) == model.evaluate(test)


def test_clone_and_params():
    model = NGram(order=2, smoothing="witten-bell", n_symbols=4, verbose=False)
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert not hasattr(twin, "is_fitted_")
    with pytest.raises(gl.NotFittedError):
        twin.log_prob([[0, 1]])
    with pytest.raises(ValueError, match="order"):
        model.set_params(order=0).fit([[0, 1]])  # set_params stores; fit validates


def test_hyperparameters_fixed_at_fit():
    seqs = random_seqs(4, 20, 10, seed=12)
    model = NGram(order=3, discount=0.5, verbose=False).fit(seqs)
    before = model.next_log_proba([1, 2])
    model.set_params(discount=0.9, order=2)  # takes effect at the next fit
    np.testing.assert_array_equal(model.next_log_proba([1, 2]), before)
    assert not np.allclose(model.fit(seqs).next_log_proba([1, 2]), before)


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, field", [
    (dict(order=0), "order"), (dict(order=2.5), "order"), (dict(smoothing="good-turing"),
                                                           "smoothing"),
    (dict(discount=1.0), "discount"), (dict(discount=0), "discount"), (dict(k=0), "k"),
    (dict(n_symbols=0), "n_symbols"), (dict(seed=-1), "seed"), (dict(verbose="yes"), "verbose"),
])
def test_bad_hyperparameters_name_the_field(kw, field):
    with pytest.raises(ValueError, match=field):
        NGram(**kw)


def test_bad_data():
    model = NGram(order=2, verbose=False).fit([[0, 1, 2, 3], [3, 2]])
    assert model.n_symbols_ == 4
    with pytest.raises(ValueError, match=r"symbol 4.*vocabulary of 4 symbols"):
        model.log_prob([[0, 1], [2, 4]])
    with pytest.raises(ValueError, match=r"symbol 7.*vocabulary of 4"):
        model.next_log_proba([7])
    with pytest.raises(ValueError, match=r"symbol 9.*vocabulary of 4"):
        model.sample(2, 3, prompt=[9])
    with pytest.raises(ValueError, match="negative symbol -1"):
        model.fit([[0, 1], [2, -1]])
    with pytest.raises(ValueError, match="symbols must be integers"):
        model.fit([[0, 1.5, 2]])
    with pytest.raises(ValueError, match="symbols must be integers"):
        model.log_prob([np.array(["a", "b"])])
    with pytest.raises(ValueError, match="empty"):
        model.fit([])
    with pytest.raises(ValueError, match="sequence 1 has length 0"):
        model.fit([[0, 1], []])
    with pytest.raises(ValueError, match="sequence 1 has length 0"):
        model.fit([0, 1, 2], [3, 0])
    with pytest.raises(ValueError, match="lengths sum to 5 but X has 4 symbols"):
        model.fit([0, 1, 2, 3], [2, 3])
    with pytest.raises(ValueError, match="n_symbols=3"):
        NGram(n_symbols=3, verbose=False).fit([[0, 1, 3]])
    with pytest.raises(ValueError, match="length"):
        model.sample(2, 0)
    with pytest.raises(ValueError, match="n must be"):
        model.sample(0, 5)
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, 5, temperature=0)
    # a float array with integral values is fine
    np.testing.assert_array_equal(model.log_prob([np.array([0.0, 1.0])]),
                                  model.log_prob([np.array([0, 1])]))
