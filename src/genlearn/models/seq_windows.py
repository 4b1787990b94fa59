"""Training windows for the autoregressive models.

Token rows (BOS, the symbols, EOS) are cut into windows of W + 1 tokens (W inputs, W
targets); the windows of a long row start at multiples of W shifted by a random offset that
changes every epoch (drawn from (seed, epoch), so a resumed run sees the same windows), and
short rows are one window, padded in the batch with targets set to ``IGNORE``.
"""

from __future__ import annotations

import numpy as np
import torch

IGNORE = -100  # cross-entropy's ignore_index for padded targets


class Windows:
    """Training windows over token rows: (BOS, symbols, EOS) cut into windows of W + 1 tokens
    (W inputs, W targets) whose offsets shift at random each epoch, from (seed, epoch)."""

    def __init__(self, seqs):
        self.seqs = seqs
        self.val = []

    def prepare(self, rows, window: int, device) -> None:
        self.window, self.device = window, device
        self.lens = np.array([len(r) for r in rows], dtype=np.int64)
        self.offsets = np.concatenate(([0], np.cumsum(self.lens)[:-1]))
        self.flat = torch.as_tensor(np.concatenate(rows), device=device)
        per_row = np.maximum(1, -(-(self.lens - 1) // window))
        self.row_of = np.repeat(np.arange(len(rows)), per_row)
        self.k_of = np.arange(len(self.row_of)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
        self._epoch = None

    def __len__(self) -> int:
        return len(self.row_of)

    def lengths(self) -> np.ndarray:
        """Tokens of each window (W + 1 at most; the epoch's offsets change only which)."""
        return np.minimum(self.window + 1, self.lens[self.row_of])

    def _starts(self, epoch: int, seed: int) -> None:
        W, lens = self.window, self.lens
        shift = 0
        if lens.max() > W + 1:
            shift = int(np.random.default_rng([seed, epoch]).integers(0, W))
        self.starts = np.clip(self.k_of * W - shift, 0, np.maximum(lens[self.row_of] - 1 - W, 0))
        self.wlen = np.minimum(W + 1, lens[self.row_of] - self.starts)
        self._epoch = epoch

    def batch(self, idx: torch.Tensor, epoch: int, seed: int):
        """(inputs (B, L), targets (B, L) with padding as ``IGNORE``, number of targets)."""
        if self._epoch != epoch:
            self._starts(epoch, seed)
        sel = idx.numpy()
        st, wl = self.starts[sel], self.wlen[sel]
        ar = np.arange(int(wl.max()))
        pos = self.offsets[self.row_of[sel], None] + st[:, None] + np.minimum(ar, wl[:, None] - 1)
        tok = self.flat[torch.as_tensor(pos, device=self.device)]  # (B, L)
        pad = torch.as_tensor(ar[None, 1:] >= wl[:, None], device=self.device)
        return tok[:, :-1], tok[:, 1:].masked_fill(pad, IGNORE), int((wl - 1).sum())
