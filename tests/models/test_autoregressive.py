"""The autoregressive base, for both networks: exact log_prob against the product of the
model's own conditionals, the sampler against enumeration, cached == uncached sampling,
save/load, exact resume, overfitting, and bad input."""

import itertools
import math

import numpy as np
import pytest
import torch

import genlearn as gl
from genlearn.models.autoregressive import context_start, filter_logits
from genlearn.models.rnn import RNN
from genlearn.models.transformer import Transformer

TINY = {
    "transformer": lambda **kw: Transformer(**{"n_layer": 2, "n_head": 2, "n_embd": 16,
                                               "block_size": 6, "epochs": 2, "batch_size": 8,
                                               "seed": 0, "verbose": False, "device": "cpu",
                                               **kw}),
    "rotary": lambda **kw: Transformer(**{"n_layer": 1, "n_head": 2, "n_embd": 8,
                                          "positions": "rotary", "block_size": 5, "epochs": 2,
                                          "seed": 0, "verbose": False, "device": "cpu", **kw}),
    "rnn": lambda **kw: RNN(**{"n_layer": 2, "hidden": 12, "block_size": 6, "epochs": 2,
                               "batch_size": 8, "seed": 0, "verbose": False, "device": "cpu",
                               **kw}),
}
KINDS = list(TINY)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks: one thread (two are ~25x slower on a loaded 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def corpus(n=40, V=4, max_len=14, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, V, size=int(rng.integers(1, max_len + 1))) for _ in range(n)]


@pytest.fixture(scope="module", params=KINDS)
def fitted(request):
    return request.param, TINY[request.param]().fit(corpus())


def brute_log_prob(model, seq):
    """Sum of the model's next-symbol conditionals, one uncached forward pass per prefix."""
    total = sum(model.next_log_proba(seq[:t])[seq[t]] for t in range(len(seq)))
    if model.end_symbol:
        total += model.next_log_proba(seq)[model.n_symbols_]
    return total


def test_context_start_rule():
    assert [context_start(t, 4) for t in range(1, 11)] == [0, 0, 0, 0, 2, 2, 4, 4, 6, 6]
    assert context_start(100, None) == 0


def test_log_prob_equals_product_of_conditionals(fitted):
    _, model = fitted
    # lengths up to 3x the window: the strided windows of log_prob are the sampler's rule
    seqs = corpus(n=6, max_len=17, seed=3) + [np.array([1, 2, 3, 0] * 5)]
    lp = model.log_prob(seqs)
    assert lp.shape == (7,)
    for s, v in zip(seqs, lp, strict=True):
        assert v == pytest.approx(brute_log_prob(model, s), abs=1e-4)
    assert model.score(seqs) == pytest.approx(lp.mean())
    assert model.bits_per_symbol(seqs) == pytest.approx(
        -lp.sum() / sum(map(len, seqs)) / math.log(2))
    # one concatenated array with lengths reads the same sequences
    flat, lens = np.concatenate(seqs), [len(s) for s in seqs]
    np.testing.assert_allclose(model.log_prob(flat, lens), lp, atol=1e-6)


def test_probabilities_sum_to_one_with_end_symbol(fitted):
    """P(every sequence shorter than L) + P(not ended before L symbols) = 1: a distribution."""
    _, model = fitted
    V, L = model.n_symbols_, 3
    seqs = [np.array(s) for n in range(1, L) for s in itertools.product(range(V), repeat=n)]
    total = np.exp(model.log_prob(seqs)).sum()
    # the prefixes of L symbols: sequences that have not ended before
    longer = sum(np.exp(brute_log_prob(model, np.array(s)) - model.next_log_proba(s)[V])
                 for s in itertools.product(range(V), repeat=L))
    # the empty sequence: EOS right after BOS
    empty = np.exp(model.next_log_proba([])[V])
    assert total + longer + empty == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_sampler_matches_enumeration(kind):
    """At temperature 1, draws follow exactly the distribution log_prob scores (chi-square)."""
    model = TINY[kind](block_size=2).fit(corpus(V=2, max_len=4))
    V, L, n = 2, 3, 20000
    draws = model.sample(n, L, seed=11)
    outcomes = {}
    for d in draws:
        outcomes[tuple(d)] = outcomes.get(tuple(d), 0) + 1
    expected = {}
    for m in range(0, L + 1):
        for s in itertools.product(range(V), repeat=m):
            s = np.array(s, dtype=np.int64)
            if m < L:  # ended by the end symbol
                p = math.exp(model.log_prob([s])[0]) if m else math.exp(
                    model.next_log_proba([])[V])
            else:  # cut at max_length: the probability of the prefix
                p = math.exp(brute_log_prob(model, s) - model.next_log_proba(s)[V])
            expected[tuple(s.tolist())] = p
    assert sum(expected.values()) == pytest.approx(1.0, abs=1e-6)
    assert set(outcomes) <= set(expected)
    chi2 = sum((outcomes.get(k, 0) - n * p) ** 2 / (n * p) for k, p in expected.items())
    dof = len(expected) - 1  # 14; the 0.999 quantile of chi2(14) is 36.1
    assert chi2 < 36.1, (chi2, dof)


@pytest.mark.parametrize("kind", KINDS)
def test_cached_sampling_equals_uncached(kind):
    model = TINY[kind]().fit(corpus())
    for kw in ({}, {"prompt": [1, 2, 3, 0, 1, 2, 3, 1]}, {"temperature": 0.7, "top_p": 0.9}):
        a = model.sample(5, 20, seed=4, **kw)  # 20 + prompt > 3 windows of 6
        b = model.sample(5, 20, seed=4, use_cache=False, **kw)
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    a, c = model.sample(5, 20, seed=4), model.sample(5, 20, seed=5)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_sample_stops_at_end_and_respects_max_length(fitted):
    _, model = fitted
    draws = model.sample(50, 7, seed=0)
    assert len(draws) == 50
    assert all(d.ndim == 1 and d.dtype == np.int64 and len(d) <= 7 for d in draws)
    assert all(d.size == 0 or (d.min() >= 0 and d.max() < model.n_symbols_) for d in draws)
    assert min(len(d) for d in draws) < 7  # some ended at the end symbol
    assert max(len(d) for d in model.sample(20, seed=0)) <= model.max_length_


def test_filter_logits():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    p = filter_logits(logits, top_p=0.8).exp()[0]
    np.testing.assert_allclose(p.numpy(), [0.5 / 0.8, 0.3 / 0.8, 0, 0], atol=1e-12)
    p = filter_logits(logits, top_p=0.81).exp()[0]  # 0.8 falls short: the third one joins
    assert (p > 0).sum() == 3
    p = filter_logits(logits, top_k=1).exp()[0]
    np.testing.assert_allclose(p.numpy(), [1, 0, 0, 0])
    p = filter_logits(logits, temperature=0.5).exp()[0]
    q = np.array([0.5, 0.3, 0.15, 0.05]) ** 2
    np.testing.assert_allclose(p.numpy(), q / q.sum(), atol=1e-12)


def test_top_k_one_is_greedy(fitted):
    _, model = fitted
    draw = model.sample(1, 5, seed=0, top_k=1, prompt=[2])[0]
    ctx = [2]
    for sym in draw:
        assert sym == int(np.argmax(model.next_log_proba(ctx)))
        ctx.append(int(sym))


def test_save_load_round_trip(fitted, tmp_path):
    kind, model = fitted
    seqs = corpus(n=5, seed=9)
    model.save(tmp_path / kind)
    back = gl.load(tmp_path / kind)
    assert type(back) is type(model)
    np.testing.assert_array_equal(back.log_prob(seqs), model.log_prob(seqs))
    a, b = model.sample(4, 10, seed=2), back.sample(4, 10, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert back.history_ == model.history_


@pytest.mark.parametrize("kind", ["transformer", "rnn"])
def test_resume_is_exact(kind, tmp_path):
    """A run stopped after epoch 2 (its periodic checkpoint) and resumed equals a run of 4."""
    data = corpus(n=30)

    def save_at_2(epoch, record):
        if epoch == 2:
            full.save(tmp_path / "at2")

    full = TINY[kind](epochs=4, dropout=0.1, warmup=3, patience=None)
    full.fit(data, callback=save_at_2)
    resumed = gl.load(tmp_path / "at2").fit(data, resume=True)
    assert resumed.epochs_trained_ == 4 and len(resumed.history_) == 4
    for k, v in full.net_.state_dict().items():
        torch.testing.assert_close(resumed.net_.state_dict()[k], v, rtol=0, atol=0)


@pytest.mark.parametrize("kind", ["transformer", "rnn"])
def test_length_buckets_batch_similar_lengths_and_resume_exactly(kind, tmp_path):
    """With length_buckets each step's rows have near-equal lengths (here: the batch is
    padded to at most its shortest row + 2, and by 1 on average, where random batches of 8 rows
    of 4 lengths nearly always span 3), every row is read once an epoch, and a resumed run
    equals an uninterrupted one."""
    rng = np.random.default_rng(1)
    data = [rng.integers(0, 4, size=int(n)) for n in rng.integers(1, 5, size=64)]
    spans, rows = [], []
    model = TINY[kind](epochs=1, length_buckets=4, val_fraction=0.0, block_size=8)
    step = type(model)._train_step

    def spy(self, d, idx, epoch):
        lens = d.lengths()[idx.numpy()]
        spans.append(int(lens.max() - lens.min()))
        rows.extend(idx.tolist())
        return step(self, d, idx, epoch)

    type(model)._train_step = spy
    try:
        model.fit(data)
    finally:
        type(model)._train_step = step
    assert sorted(rows) == list(range(64)) and max(spans) <= 2 and sum(spans) <= len(spans)

    def save_at_2(epoch, record):
        if epoch == 2:
            full.save(tmp_path / "at2")

    full = TINY[kind](epochs=4, length_buckets=2, warmup=3, patience=None)
    full.fit(data, callback=save_at_2)
    resumed = gl.load(tmp_path / "at2")
    assert resumed.length_buckets == 2
    resumed.fit(data, resume=True)
    for k, v in full.net_.state_dict().items():
        torch.testing.assert_close(resumed.net_.state_dict()[k], v, rtol=0, atol=0)
    with pytest.raises(ValueError, match="length_buckets"):
        TINY[kind](length_buckets=-1).fit(data)


@pytest.mark.parametrize("kind", ["transformer", "rnn"])
def test_overfits_a_tiny_corpus(kind):
    # the first symbol names the sequence, so every conditional is deterministic
    seqs = [np.array([0, 1, 2, 3, 1, 2]), np.array([1, 3, 3, 2]), np.array([2, 0, 0, 1, 3, 2]),
            np.array([3, 2, 1])]
    model = TINY[kind](epochs=150, lr=3e-2, warmup=10, val_fraction=0.0, batch_size=4,
                       block_size=8).fit(seqs)
    first = -np.log(0.25)  # the first symbol is uniform over four
    excess = -model.log_prob(seqs) - first
    assert np.all(excess < 0.1), excess
    assert model.history_[-1]["loss"] < model.history_[0]["loss"]


def test_early_stopping_records_held_out_bits():
    model = TINY["transformer"](epochs=30, patience=1, lr=3e-2, warmup=0).fit(corpus(n=60))
    assert all("val_bits_per_symbol" in r for r in model.history_)
    best = min(r["val_bits_per_symbol"] for r in model.history_)
    if model.stop_reason_ == "early_stopping":
        assert model.history_[-1]["val_bits_per_symbol"] > best
    assert model.bits_per_symbol(model._split(corpus(n=60))[1]) == pytest.approx(best, abs=1e-6)


def test_time_budget_ends_the_schedule(monkeypatch):
    """With max_time, the cosine reaches its floor when the budget runs out (not at an epoch
    count that is never reached) and training stops at the first step past it."""
    from genlearn.models import autoregressive

    ticks = [0.0]

    def clock():  # one tick per reading: the start, then one per step
        ticks[0] += 1.0
        return ticks[0]

    monkeypatch.setitem(autoregressive.CLOCKS, "fake", clock)
    lrs = []
    model = TINY["transformer"](epochs=1000, lr=1e-2, warmup=2, min_lr_ratio=0.1,
                                val_fraction=0.0, max_time=20.0, clock="fake")
    step = type(model)._train_step

    def spy(self, data, idx, epoch):
        out = step(self, data, idx, epoch)
        lrs.append(self.optimizer_.param_groups[0]["lr"])
        return out

    monkeypatch.setattr(type(model), "_train_step", spy)
    model.fit(corpus())
    assert model.stop_reason_ == "max_time" and model.steps_ == 20 == len(lrs)
    assert lrs[:2] == [5e-3, 1e-2]  # warm-up
    assert lrs[-1] == pytest.approx(1e-3)  # the floor, at the budget's last step
    assert all(a >= b for a, b in zip(lrs[1:], lrs[2:], strict=False))  # decays throughout
    # by steps alone (1000 epochs planned) the cosine would still be near its top
    assert model._lr_at(19, 0.0) > 9e-3


def test_callback_runs_each_epoch():
    seen = []
    TINY["rnn"](epochs=3).fit(corpus(), callback=lambda e, r: seen.append((e, r["epoch"])))
    assert seen == [(1, 1), (2, 2), (3, 3)]


# -- bad input ---------------------------------------------------------------------------------
def test_bad_input(fitted):
    _, model = fitted
    with pytest.raises(ValueError, match="empty"):
        TINY["rnn"]().fit([])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.log_prob([np.array([0, 9])])
    with pytest.raises(ValueError, match="max_length"):
        model.sample(2, 0)
    with pytest.raises(ValueError, match="top_p"):
        model.sample(2, 5, top_p=1.5)
    with pytest.raises(ValueError, match="top_p"):
        model.sample(2, 5, top_p=0.0)
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, 5, temperature=0)
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, 5, temperature=-1.0)
    with pytest.raises(ValueError, match="top_k"):
        model.sample(2, 5, top_k=0)
    with pytest.raises(ValueError, match="max_length"):
        model.sample(2, -3)
    with pytest.raises(ValueError, match="prompt"):
        model.sample(2, 5, prompt=[0, 17])
    with pytest.raises(ValueError, match="n_symbols"):
        TINY["rnn"](n_symbols=3).fit([np.array([0, 5])])
    with pytest.raises(ValueError, match="mostly unused"):
        TINY["rnn"]().fit([np.array([0, 10**9])])
    with pytest.raises(ValueError, match="n_embd"):
        TINY["transformer"](n_embd=10, n_head=3).fit(corpus())
    with pytest.raises(ValueError, match="tie_weights"):
        TINY["rnn"](n_embd=5).fit(corpus())
    with pytest.raises(ValueError, match="block_size"):
        TINY["rnn"](block_size=0).fit(corpus())
    with pytest.raises(ValueError, match="clock must be one of"):
        TINY["rnn"](max_time=1.0, clock="sundial").fit(corpus())
    with pytest.raises(ValueError, match="max_time"):
        TINY["transformer"](max_time=0).fit(corpus())
    with pytest.raises(gl.NotFittedError):
        TINY["rnn"]().sample(1, 3)
