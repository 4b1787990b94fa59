"""The epoch loop shared by the gradient-trained families (VAE, GAN, neural baselines).

A model hands over small callables -- one optimisation step, an end-of-epoch evaluation, and
snapshot/restore of its weights -- and the loop does the rest: shuffled mini-batches, a progress
bar, the per-epoch history, early stopping on a monitored metric, and the rule that a non-finite
loss or Ctrl-C never leaves the model with broken weights: it goes back to the last epoch that
finished cleanly, and a ``NonFiniteLossError`` names the epoch and step.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable

import numpy as np
import torch
from tqdm.auto import tqdm

from .._utils import check_int

log = logging.getLogger(__name__)


class NonFiniteLossError(ValueError):
    """Training produced a NaN or infinite loss; the model keeps its last good weights."""


def minibatches(n: int, batch_size: int, generator: torch.Generator,
                drop_last: bool = False) -> Iterable[torch.Tensor]:
    """Index tensors of a random permutation of ``range(n)``, ``batch_size`` at a time."""
    perm = torch.randperm(n, generator=generator)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        yield perm[start:start + batch_size]


class LengthBuckets:
    """Mini-batches of items of similar length (``minibatches``'s drop-in for variable-length
    data, where a batch costs its longest item times its size).

    Each epoch the items are shuffled, cut into chunks of ``chunk`` batches, each chunk sorted
    by length and cut into batches, and the batches shuffled: every item is still seen once an
    epoch in a random batch, but a batch's items have nearly the same length, so little of the
    work goes into padding. Draws only from the loop's generator (a resumed run sees the same
    batches).
    """

    def __init__(self, lengths, chunk: int = 100):
        check_int(chunk, "chunk", low=1)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.chunk = chunk

    def __call__(self, n: int, batch_size: int, generator: torch.Generator,
                 drop_last: bool = False) -> Iterable[torch.Tensor]:
        if n != len(self.lengths):
            raise ValueError(f"LengthBuckets holds {len(self.lengths)} lengths for {n} items")
        perm = torch.randperm(n, generator=generator)
        size = batch_size * self.chunk
        batches = []
        for start in range(0, n, size):
            part = perm[start:start + size]
            part = part[torch.as_tensor(np.argsort(self.lengths[part.numpy()], kind="stable"))]
            batches += list(part.split(batch_size))
        if drop_last and n >= batch_size:
            batches = [b for b in batches if len(b) == batch_size]
        for i in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[i]


def run_epochs(
    *,
    start_epoch: int,
    epochs: int,
    n_rows: int,
    batch_size: int,
    generator: torch.Generator,
    step: Callable[[torch.Tensor, int], dict[str, float]],
    history: list[dict],
    snapshot: Callable[[], object],
    restore: Callable[[object], None],
    evaluate: Callable[[int], dict[str, float]] | None = None,
    monitor: str | None = None,
    patience: int | None = None,
    callback: Callable[[int, dict], None] | None = None,
    verbose: bool = True,
    desc: str = "training",
    drop_last: bool = False,
    max_abs_loss: float | None = None,
    batches: Callable[..., Iterable[torch.Tensor]] = minibatches,
) -> str:
    """Train from ``start_epoch`` up to ``epochs`` (exclusive) and return why it stopped.

    ``step(idx, epoch)`` runs one optimisation step on the rows ``idx`` and returns its metrics
    (floats; their means per epoch go into ``history``). ``evaluate(epoch)`` adds end-of-epoch
    metrics (e.g. a validation ELBO). With ``monitor`` and ``patience``, training stops after
    ``patience`` epochs without improvement of ``monitor`` (higher is better) and the best
    epoch's weights are restored. Returns ``"completed"`` or ``"early_stopping"``.

    ``drop_last`` skips the last, short mini-batch of each epoch (models whose step needs a
    fixed batch size, e.g. a GAN packing m samples per discriminator input). With
    ``max_abs_loss``, a metric whose magnitude exceeds it counts as an exploding loss and stops
    training like a non-finite one. ``batches(n_rows, batch_size, generator, drop_last)``
    yields each epoch's index tensors: :func:`minibatches`, or e.g. :class:`LengthBuckets`.
    """
    last_good = snapshot()
    best, best_value, since_best = None, -math.inf, 0
    bar = tqdm(total=epochs, initial=start_epoch, desc=desc, disable=not verbose, leave=False,
               dynamic_ncols=True)
    reason = "completed"
    try:
        for epoch in range(start_epoch, epochs):
            t0 = time.perf_counter()
            sums: dict[str, float] = {}
            n_steps = 0
            for i, idx in enumerate(batches(n_rows, batch_size, generator, drop_last)):
                metrics = step(idx, epoch)
                bad = [k for k, v in metrics.items() if not math.isfinite(v)
                       or (max_abs_loss is not None and abs(v) > max_abs_loss)]
                if bad:
                    restore(last_good)
                    kind = "non-finite" if not math.isfinite(metrics[bad[0]]) else "exploding"
                    raise NonFiniteLossError(
                        f"{kind} {bad[0]} ({metrics[bad[0]]:.4g}) at epoch {epoch + 1}, step "
                        f"{i + 1}; the model keeps the weights of epoch {epoch} (the last good "
                        "one). Try a lower learning rate.")
                for k, v in metrics.items():
                    sums[k] = sums.get(k, 0.0) + v
                n_steps += 1
            record = {"epoch": epoch + 1, **{k: v / n_steps for k, v in sums.items()}}
            if evaluate is not None:
                record.update(evaluate(epoch))
            record["time"] = time.perf_counter() - t0
            history.append(record)
            last_good = snapshot()
            bar.update(1)
            bar.set_postfix({k: f"{v:.3g}" for k, v in record.items()
                             if k not in ("epoch", "time")}, refresh=False)
            if callback is not None:
                callback(epoch + 1, record)
            if monitor is not None and patience is not None:
                value = record[monitor]
                if value > best_value:
                    best, best_value, since_best = last_good, value, 0
                else:
                    since_best += 1
                    if since_best >= patience:
                        reason = "early_stopping"
                        log.info("early stopping at epoch %d: %s has not improved for %d epochs",
                                 epoch + 1, monitor, patience)
                        break
    except KeyboardInterrupt:
        restore(last_good)
        raise
    finally:
        bar.close()
    if best is not None and monitor is not None:
        full = list(history)  # keep the curve past the best epoch; only the weights go back
        restore(best)
        history[:] = full
    return reason
