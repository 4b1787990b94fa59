"""One CPU thread policy for every family: chosen by the size of the work, the caller's setting
restored afterwards, overridable by the user.

torch's default of one thread per core makes small models slower, not faster: a step of a
small network is a few small matrix products, and splitting each over threads costs more in
synchronisation than it saves -- and far more when the machine is busy, where a thread waits
for a core. Measured on the 2-core development machine (issue 10, benchmarks/threads.py): the
default VAE on the digits took 8.5 / 14.8 s with one thread against 45.6 / 143.5 s with two at
load ~5. Large work (convolutions over images, big batches) still gains from threads, so the
rule is: one thread when a training step is below :data:`SMALL_WORK` multiply-adds, torch's
setting otherwise.

API::

    choose_threads(work, device="cpu") -> int | None   # 1, or None (leave torch's setting)
    with thread_policy(threads, work=..., device=...):  # threads: None (auto) or an int
        ...                                            # torch's thread count restored after
    with use_threads(n): ...                           # exactly n threads (None: unchanged)

Changing the thread count costs ~10 ms, so set it once per fit or per query, not per step.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from contextlib import contextmanager

import torch

# Multiply-adds per training step (parameters x batch rows) below which one thread wins.
# The default VAE on the digits is ~1.8e7 (180k parameters x 100 rows): 1 thread is faster
# on a loaded 2-core machine and about as fast on a quiet one (benchmarks/threads.py).
SMALL_WORK = 2.0**26


def check_threads(threads, name: str = "threads") -> None:
    """``None`` (chosen by the work) or a positive integer; ``ValueError`` names the field."""
    if threads is None:
        return
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise ValueError(f"{name} must be None (chosen by the size of the work) or a positive "
                         f"integer; got {threads!r}")


def choose_threads(work: float, device="cpu") -> int | None:
    """1 for small CPU work (below :data:`SMALL_WORK` multiply-adds per step), else None."""
    if torch.device(device).type != "cpu":
        return None
    return 1 if work < SMALL_WORK else None


@contextmanager
def use_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads (None: leave them), then restore the count."""
    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def thread_policy(threads: int | None = None, *, work: float = float("inf"),
                  device="cpu") -> Iterator[None]:
    """``threads`` if given (the user's override), else :func:`choose_threads` of ``work``."""
    n = int(threads) if threads is not None else choose_threads(work, device)
    with use_threads(n):
        yield
