"""The shared epoch loop: history, early stopping, and going back to the last good epoch."""

import math

import pytest
import torch

from genlearn.training import NonFiniteLossError, run_epochs
from genlearn.training.loop import LengthBuckets, minibatches


class Counter:
    """A fake model whose 'weights' are one number that each step increments."""

    def __init__(self):
        self.w = 0
        self.history = []

    def snapshot(self):
        return (self.w, len(self.history))

    def restore(self, snap):
        self.w, n = snap
        del self.history[n:]


def run(model, step, **kw):
    args = dict(start_epoch=0, epochs=5, n_rows=10, batch_size=4, generator=torch.Generator(),
                step=step, history=model.history, snapshot=model.snapshot,
                restore=model.restore, verbose=False)
    args.update(kw)
    return run_epochs(**args)


def test_batches_cover_every_row_once_per_epoch():
    seen = []
    m = Counter()
    run(m, lambda idx, e: seen.append(idx.tolist()) or {"loss": 1.0}, epochs=1)
    assert sorted(sum(seen, [])) == list(range(10)) and [len(s) for s in seen] == [4, 4, 2]


def test_length_buckets_cover_every_row_once_with_little_padding():
    """Every row once an epoch, batches of near-equal length (far less padding than random
    batches), in an order that depends on the generator only."""
    lengths = torch.Generator().manual_seed(0)
    lengths = torch.randint(5, 60, (1000,), generator=lengths).numpy()
    buckets = LengthBuckets(lengths, chunk=10)

    def waste(batches):  # padded slots over real ones: sum(max * size) / sum(lengths)
        return sum(int(lengths[b.numpy()].max()) * len(b) for b in batches) / lengths.sum()

    got = list(buckets(1000, 32, torch.Generator().manual_seed(1)))
    assert sorted(torch.cat(got).tolist()) == list(range(1000))
    assert sorted(len(b) for b in got)[1:] == [32] * (len(got) - 1)  # one short batch at most
    plain = list(minibatches(1000, 32, torch.Generator().manual_seed(1)))
    assert waste(got) < 1.15 < 1.4 < waste(plain)
    again = list(buckets(1000, 32, torch.Generator().manual_seed(1)))
    assert all(torch.equal(a, b) for a, b in zip(got, again, strict=True))
    other = list(buckets(1000, 32, torch.Generator().manual_seed(2)))
    assert not all(torch.equal(a, b) for a, b in zip(got, other, strict=False))
    # the batch order is shuffled: not sorted by length across the epoch
    first = [int(lengths[b.numpy()].min()) for b in got]
    assert first != sorted(first)
    dropped = list(buckets(1000, 32, torch.Generator().manual_seed(1), drop_last=True))
    assert all(len(b) == 32 for b in dropped) and len(dropped) == 1000 // 32
    with pytest.raises(ValueError, match="lengths"):
        list(buckets(999, 32, torch.Generator()))
    with pytest.raises(ValueError, match="chunk"):
        LengthBuckets(lengths, chunk=0)


def test_run_epochs_uses_the_given_batching():
    seen = []
    lengths = [3, 1, 2, 1, 3, 2, 1, 3]
    run(Counter(), lambda idx, e: seen.append(idx.tolist()) or {"loss": 1.0}, epochs=1,
        n_rows=8, batch_size=2, batches=LengthBuckets(lengths, chunk=4))
    assert sorted(sum(seen, [])) == list(range(8))
    # one chunk of 4 batches: sorted by length, so batches pair equal lengths
    assert sorted(sorted(lengths[i] for i in b) for b in seen) == [[1, 1], [1, 2], [2, 3],
                                                                   [3, 3]]


def test_history_records_epoch_means():
    m = Counter()

    def step(idx, epoch):
        m.w += 1
        return {"loss": float(epoch)}

    assert run(m, step) == "completed"
    assert [r["epoch"] for r in m.history] == [1, 2, 3, 4, 5]
    assert [r["loss"] for r in m.history] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_non_finite_loss_restores_last_good_epoch():
    m = Counter()

    def step(idx, epoch):
        m.w += 1
        return {"loss": math.nan if epoch == 2 else 1.0}

    with pytest.raises(NonFiniteLossError, match="epoch 3, step 1"):
        run(m, step)
    assert m.w == 6 and len(m.history) == 2  # 2 epochs x 3 steps, nothing of epoch 3


def test_keyboard_interrupt_restores_last_good_epoch():
    m = Counter()

    def step(idx, epoch):
        m.w += 1
        if epoch == 1 and m.w == 5:
            raise KeyboardInterrupt
        return {"loss": 1.0}

    with pytest.raises(KeyboardInterrupt):
        run(m, step)
    assert m.w == 3 and len(m.history) == 1


def test_early_stopping_keeps_full_curve_and_best_weights():
    m = Counter()
    scores = [1.0, 3.0, 2.0, 2.5, 0.0, 9.0]

    def step(idx, epoch):
        m.w += 1
        return {"loss": 0.0}

    reason = run(m, step, epochs=6, evaluate=lambda e: {"val": scores[e]}, monitor="val",
                 patience=3)
    assert reason == "early_stopping"
    assert len(m.history) == 5  # stopped after three epochs without beating 3.0
    assert m.w == 6  # weights of epoch 2 (the best): 2 epochs x 3 steps


def test_callback_sees_each_epoch():
    m, calls = Counter(), []
    run(m, lambda idx, e: {"loss": 0.5}, callback=lambda e, r: calls.append((e, r["loss"])),
        start_epoch=2)
    assert calls == [(3, 0.5), (4, 0.5), (5, 0.5)]
