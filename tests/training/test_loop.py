"""The shared epoch loop: history, early stopping, and going back to the last good epoch."""

import math

import pytest
import torch

from genlearn.training import NonFiniteLossError, run_epochs


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
