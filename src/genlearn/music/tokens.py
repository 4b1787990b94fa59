"""Piano rolls as event tokens, and a token sequence model used as a frame model.

Encoding (lossless): each frame becomes the keys that sound in it, in ascending order, then a
STEP token (id ``n_keys``):  frame {C4, E4, G4} -> [39, 43, 46, STEP]; a silent frame -> [STEP].

:class:`TokenFrameModel` trains an autoregressive token model (``gl.Transformer`` or ``gl.RNN``,
no end symbol) on these sequences and answers the frame models' questions:
``log_prob_steps`` gives log p(tokens of frame t | all earlier tokens), from the token model's
exact log-likelihoods of the prefixes ending at each STEP, so its per-step NLL is comparable
with the RNN-RBM's. It is the log-probability of the canonical (ascending) token sequence; the
token model may also put mass on non-canonical orders that decode to the same roll, so the
frame's true log-probability under sampling-and-decoding is at least this (the reported NLL is
an upper bound).
"""

from __future__ import annotations

import numpy as np


def roll_to_tokens(roll) -> np.ndarray:
    """(T, D) 0/1 roll -> 1-D int64 tokens (keys ascending, then STEP = D per frame)."""
    roll = np.asarray(roll)
    D = roll.shape[1]
    out = []
    for frame in roll:
        out.extend(np.flatnonzero(frame).tolist())
        out.append(D)
    return np.asarray(out, dtype=np.int64)


def tokens_to_roll(tokens, n_keys: int, length: int | None = None) -> np.ndarray:
    """Tokens -> (T, D) roll; a trailing frame without STEP counts; ``length`` pads with silent
    frames or cuts."""
    frames, cur = [], np.zeros(n_keys, dtype=np.uint8)
    pending = False
    for tok in np.asarray(tokens).ravel():
        if tok == n_keys:
            frames.append(cur)
            cur, pending = np.zeros(n_keys, dtype=np.uint8), False
        else:
            cur[int(tok)] = 1
            pending = True
    if pending:
        frames.append(cur)
    roll = np.array(frames, dtype=np.uint8).reshape(-1, n_keys)
    if length is not None:
        roll = np.vstack([roll, np.zeros((max(0, length - len(roll)), n_keys), np.uint8)])
        roll = roll[:length]
    return roll


class TokenFrameModel:
    """Frame-model interface over a fitted token model (see the module docstring)."""

    def __init__(self, token_model, n_keys: int, max_per_frame: int):
        self.model, self.n_keys, self.max_per_frame = token_model, n_keys, max_per_frame

    @classmethod
    def fit(cls, token_model, rolls):
        toks = [roll_to_tokens(r) for r in rolls]
        token_model.fit(toks)
        return cls(token_model, rolls[0].shape[1], int(max(np.asarray(r).sum(1).max()
                                                             for r in rolls)))

    def log_prob_steps(self, rolls) -> list[np.ndarray]:
        out = []
        for r in rolls:
            toks = roll_to_tokens(r)
            ends = np.flatnonzero(toks == self.n_keys) + 1
            cum = self.model.log_prob([toks[:e] for e in ends])
            out.append(np.diff(np.concatenate([[0.0], cum])))
        return out

    def nll_per_step(self, rolls) -> float:
        steps = self.log_prob_steps(rolls)
        return float(-np.concatenate(steps).sum() / sum(len(s) for s in steps))

    def sample(self, n, length, *, seed=None, prompt=None) -> list[np.ndarray]:
        """``length`` frames per draw; a draw that ends early is padded with silent frames."""
        p = None if prompt is None else roll_to_tokens(prompt)
        toks = self.model.sample(n, length * (self.max_per_frame + 1), seed=seed, prompt=p)
        return [tokens_to_roll(t, self.n_keys, length) for t in toks]
