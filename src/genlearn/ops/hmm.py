"""Hidden Markov model recursions, batched over padded sequences, time-major.

Every function works on a batch of N sequences padded to T steps over K states, laid out
time-major -- emission log-probabilities ``log_b`` of shape (T, N, K) -- with ``lengths`` (N,).
Time-major matters: each recursion step then reads and writes one contiguous (N, K) slab, which
is what makes the per-step (N, K) @ (K, K) product fast (a strided (N, T, K) layout is ~50x
slower on CPU).

The forward-backward is the scaled one (Rabiner 1989): alpha_t is renormalised to sum to 1 at
every step and the normalisers c_t multiply to p(x); the emissions are max-shifted per step
before ``exp``, so nothing underflows however long the sequence. Past a sequence's end the
emission factor is 1, so alpha keeps summing to 1 (c_t = 1) and beta stays 1: padding needs no
per-step masking, only a mask on the outputs. Long batches are processed in time blocks: the
forward sweep keeps only the alpha at each block boundary, the backward sweep recomputes a
block's alphas from its boundary (checkpointing), so memory is bounded by the block, not by T.
Viterbi runs in log space. All of it is exact in the dtype given (float64 in the models).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

# (s, e) -> log_b[s:e] of shape (e-s, N, K), or the pair (exp(log_b - shift), shift (e-s, N))
LogEmissions = Callable[[int, int], torch.Tensor | tuple[torch.Tensor, torch.Tensor]]


@contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads (None: leave them), then restore the count.

    The recursions are sequential in time and each step is a small (N, K) @ (K, K) product:
    splitting that over threads costs more in synchronisation than it saves (measured here: 2
    threads up to 10x slower than 1 on a busy 2-core machine). Changing the thread count is
    itself slow (~10 ms), so callers do it once per fit or per query, not per loop.
    """
    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def flush_denormals() -> Iterator[None]:
    """Run the block with denormal floats read and written as zero, then switch that off.

    EM drives transition probabilities towards zero, and the scaled recursions then multiply
    numbers below float64's smallest normal (2.2e-308). x86 CPUs handle such denormals in
    microcode, many times slower than normal numbers. Measured (200 states on 10,000 SMILES,
    after 50 EM iterations, one thread): 19.2 s of CPU an iteration without flushing, 3.9 s
    with it, the same log-likelihood to the last digit. Flushing moves a scaled alpha or beta
    (of order 1) by less than 1e-307, far below float64's rounding.
    ``torch.set_flush_denormal`` has no getter, so on leaving the flag is off (torch's default).
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


class Workspace:
    """Reusable work arrays for repeated E-steps (one per name, grown when too small).

    Allocating a fresh ~50 MB (T, N, K) array and touching it for the first time costs about as
    much as a pass over it (page faults); EM allocates the same arrays every iteration, so
    keeping them is a measurable share of an iteration. Arrays handed out are uninitialised.
    """

    def __init__(self):
        self._store: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape, dtype, device) -> torch.Tensor:
        n = math.prod(shape)
        buf = self._store.get(name)
        if buf is None or buf.numel() < n or buf.dtype != dtype or buf.device != device:
            buf = torch.empty(n, dtype=dtype, device=device)
            self._store[name] = buf
        return buf[:n].view(shape)


def _empty(ws: Workspace | None, name: str, shape, like: torch.Tensor) -> torch.Tensor:
    if ws is None:
        return torch.empty(shape, dtype=like.dtype, device=like.device)
    return ws.get(name, tuple(shape), like.dtype, like.device)


def padded_batches(seqs, steps: int, *, device, dtype=torch.float64):
    """Padded time-major batches of sequences of similar length, longest first.

    ``seqs`` are 1-D int arrays (symbols) or (T, D) float arrays. Yields
    ``(indices, x, lengths, block)``: x is (T, N) long or (T, N, D) of ``dtype``, lengths (N,),
    and ``block`` the time steps the recursions hold at once, so N * block <= ``steps`` (a
    single sequence longer than ``steps`` is processed in time blocks).
    """
    order = sorted(range(len(seqs)), key=lambda j: -len(seqs[j]))  # stable
    i = 0
    while i < len(order):
        T = len(seqs[order[i]])
        n = max(1, steps // T)
        idx = order[i:i + n]
        i += n
        lengths = torch.tensor([len(seqs[j]) for j in idx], device=device)
        first = seqs[idx[0]]
        x = np.zeros((T, len(idx), *first.shape[1:]),  # (T, N) symbols or (T, N, D) features
                     dtype=np.int64 if first.ndim == 1 else np.float64)
        for r, j in enumerate(idx):
            x[: len(seqs[j]), r] = seqs[j]
        x = torch.from_numpy(x).to(device=device, dtype=torch.long if first.ndim == 1 else dtype)
        yield idx, x, lengths, max(1, steps // len(idx))


def valid_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """(T, N) bool: True where t < length."""
    return torch.arange(T, device=lengths.device)[:, None] < lengths[None, :]


def _scaled_emissions(log_b, valid: torch.Tensor):
    """exp(log_b - max_k log_b) (1 past the end) and the shift (T, N), 0 past the end.

    ``log_b`` may also come already scaled, as a pair (b, shift) with b = exp(log_b - shift)
    (a categorical emission gets it with one table lookup and no ``exp``).
    """
    if isinstance(log_b, tuple):
        b, shift = log_b
        shift = shift.masked_fill(~(torch.isfinite(shift) & valid), 0.0)
    else:
        shift = torch.amax(log_b, dim=-1)
        shift.masked_fill_(~(torch.isfinite(shift) & valid), 0.0)
        b = torch.sub(log_b, shift[..., None]).exp_()
    if not bool(valid.all()):  # padding: a factor 1 past each end
        b.masked_fill_(~valid[..., None], 1.0)
    return b.contiguous(), shift


def _forward(a_prev: torch.Tensor | None, start: torch.Tensor, trans: torch.Tensor,
             b: torch.Tensor, keep_alpha: bool, ws: Workspace | None = None):
    """Scaled forward over one block; returns (alphas (L, N, K) or None, last alpha, c (L, N)).

    ``a_prev`` is the normalised alpha just before the block (None at t = 0). A sequence that
    is impossible gets c = 0 and NaN alphas from there on; callers mask it.
    """
    L, N, K = b.shape
    alpha = _empty(ws, "alpha" if keep_alpha else "alpha2", (L if keep_alpha else 2, N, K), b)
    c = torch.empty(L, N, 1, dtype=b.dtype, device=b.device)
    prev = a_prev
    for t in range(L):
        a = alpha[t] if keep_alpha else alpha[t % 2]
        if prev is None:
            torch.mul(start[None, :], b[t], out=a)
        else:
            torch.mm(prev, trans, out=a)
            a.mul_(b[t])
        torch.sum(a, dim=-1, keepdim=True, out=c[t])
        a.div_(c[t])
        prev = a
    return (alpha if keep_alpha else None), prev.clone(), c[..., 0]


@flush_denormals()
def forward_log_likelihood(log_start: torch.Tensor, log_trans: torch.Tensor, log_b,
                           lengths: torch.Tensor, block: int | None = None) -> torch.Tensor:
    """log p(x_n) per sequence by the scaled forward pass alone, in time blocks of ``block``.

    ``log_b`` is a (T, N, K) tensor or a function ``(s, e) -> log_b[s:e]`` (then ``T`` is
    ``lengths.max()``), so emissions need never exist for the whole batch at once.
    """
    if callable(log_b):
        fn, T = log_b, int(lengths.max())
    else:
        fn, T = (lambda s, e: log_b[s:e]), log_b.shape[0]
    block = block or T
    valid = valid_mask(lengths, T)
    start, trans = torch.exp(log_start), torch.exp(log_trans)
    total, a = None, None
    for s in range(0, T, block):
        e = min(T, s + block)
        b, shift = _scaled_emissions(fn(s, e), valid[s:e])
        _, a, c = _forward(a, start, trans, b, keep_alpha=False)
        part = (torch.log(c) + shift).masked_fill(~valid[s:e], 0.0).sum(0)
        total = part if total is None else total + part
    return torch.where(torch.isfinite(total), total, torch.full_like(total, -math.inf))


@flush_denormals()
def filtered_states(log_start: torch.Tensor, log_trans: torch.Tensor,
                    log_b: torch.Tensor) -> torch.Tensor:
    """p(z_T = k | x_1..T) for each of N equal-length sequences (``log_b`` (T, N, K)): (N, K).

    The normalised alpha of the last step (NaN for a sequence of probability zero).
    """
    T, N, _ = log_b.shape
    valid = torch.ones(T, N, dtype=torch.bool, device=log_b.device)
    b, _ = _scaled_emissions(log_b, valid)
    _, last, _ = _forward(None, torch.exp(log_start), torch.exp(log_trans), b, keep_alpha=False)
    return last


@flush_denormals()
def forward_backward_blocks(
    log_start: torch.Tensor, log_trans: torch.Tensor, log_b: LogEmissions, lengths: torch.Tensor,
    T: int, block: int, on_gamma: Callable[[int, int, torch.Tensor], None],
    workspace: Workspace | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The E-step over one padded batch, ``block`` time steps at a time.

    Calls ``on_gamma(s, e, gamma)`` with the posterior state marginals p(z_t = k | x) of steps
    ``s:e`` (shape (e-s, N, K), zero past each end and for impossible sequences), in reverse
    block order. Returns (log p(x_n) (N,), expected transition counts summed over the batch
    (K, K)). With one block the forward pass runs once; with several it runs twice (the
    backward sweep recomputes each block's alphas from the checkpoint at its start).
    ``workspace`` keeps the large work arrays between calls (EM iterations); ``gamma`` then
    lives in it and is only valid during ``on_gamma``.
    """
    K = log_trans.shape[0]
    start, trans = torch.exp(log_start), torch.exp(log_trans)
    trans_t = trans.T.contiguous()
    valid = valid_mask(lengths, T)
    bounds = [(s, min(T, s + block)) for s in range(0, T, block)]

    # forward sweep: log-likelihood and the alpha entering each block
    entering: list[torch.Tensor | None] = []
    a, ll, cache = None, None, None
    for s, e in bounds:
        entering.append(a)
        b, shift = _scaled_emissions(log_b(s, e), valid[s:e])
        alpha, a, c = _forward(a, start, trans, b, keep_alpha=len(bounds) == 1, ws=workspace)
        part = (torch.log(c) + shift).masked_fill(~valid[s:e], 0.0).sum(0)
        ll = part if ll is None else ll + part
        if len(bounds) == 1:
            cache = (alpha, b, c)
    ll = torch.where(torch.isfinite(ll), ll, torch.full_like(ll, -math.inf))
    ok = torch.isfinite(ll)  # (N,) possible sequences

    # backward sweep, last block first
    xi = torch.zeros(K, K, dtype=trans.dtype, device=trans.device)
    r_next = None  # b_e beta_e / c_e of the step just after the block
    for (s, e), a_in in zip(reversed(bounds), reversed(entering), strict=True):
        if cache is not None:
            alpha, b, c = cache
        else:
            b, _ = _scaled_emissions(log_b(s, e), valid[s:e])
            alpha, _, c = _forward(a_in, start, trans, b, keep_alpha=True, ws=workspace)
        L, N, _ = b.shape
        r = b  # overwritten in place, step by step, with b_t beta_t / c_t
        c = c[..., None]  # (L, N, 1)
        beta = _empty(workspace, "beta", b.shape, b)
        if r_next is None:
            beta[L - 1] = 1.0
        else:
            torch.mm(r_next, trans_t, out=beta[L - 1])
        r[L - 1].mul_(beta[L - 1]).div_(c[L - 1])
        for t in range(L - 2, -1, -1):
            torch.mm(r[t + 1], trans_t, out=beta[t])
            r[t].mul_(beta[t]).div_(c[t])
        r_first = r[0].clone()
        drop = ~(valid[s:e] & ok[None, :])[..., None]  # (L, N, 1): past the end, or impossible
        if not bool(ok.all()):
            alpha.masked_fill_(drop, 0.0)  # NaN alphas of impossible sequences
        # expected transitions: pairs (t, t+1) inside the block, then the pair across its end
        if r_next is not None:
            keep_e = (valid[e] & ok)[:, None]
            xi += alpha[L - 1].T @ torch.where(keep_e, r_next, 0.0)
        dropping = bool(drop.any())
        if dropping:
            r.masked_fill_(drop, 0.0)
        xi += alpha[:-1].reshape(-1, K).T @ r[1:].reshape(-1, K)
        gamma = alpha.mul_(beta)
        if dropping:
            gamma.masked_fill_(drop, 0.0)
        on_gamma(s, e, gamma)
        r_next = r_first
    return ll, trans * xi


def forward_backward(log_start: torch.Tensor, log_trans: torch.Tensor, log_b: torch.Tensor,
                     lengths: torch.Tensor):
    """Exact posteriors of a whole batch: (log p(x_n) (N,), gamma (T, N, K), xi sum (K, K)).

    ``log_start`` (K,), ``log_trans`` (K, K) and ``log_b`` (T, N, K) are log-probabilities;
    ``-inf`` entries (forbidden transitions, impossible emissions) are allowed. A sequence of
    probability zero gets log-likelihood ``-inf`` and zero posteriors.
    """
    T = log_b.shape[0]
    gamma = torch.empty_like(log_b)

    def keep(s, e, g):
        gamma[s:e] = g

    ll, xi = forward_backward_blocks(log_start, log_trans, lambda s, e: log_b[s:e], lengths, T,
                                     T, keep)
    return ll, gamma, xi


def viterbi(log_start: torch.Tensor, log_trans: torch.Tensor, log_b: torch.Tensor,
            lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Most probable state path per sequence, in log space; ``log_b`` is (T, N, K).

    Returns (log p(x, path) of shape (N,), paths (T, N) int64, -1 past each sequence's end).
    Back-pointers are stored in the smallest integer type that holds K (int16 up to 32,767
    states), a quarter of the memory of int64.
    """
    T, N, K = log_b.shape
    valid = valid_mask(lengths, T)
    ptr_dtype = torch.int16 if K < 2**15 else torch.int32
    back = torch.empty(T, N, K, dtype=ptr_dtype, device=log_b.device)
    ident = torch.arange(K, device=log_b.device)[None, :].expand(N, K)
    delta = log_start[None, :] + log_b[0]
    for t in range(1, T):  # each step is an (N, K, K) max: large enough for every thread
        best, arg = (delta[:, :, None] + log_trans[None]).max(dim=1)  # (N, K_to)
        keep = valid[t][:, None]
        delta = torch.where(keep, best + log_b[t], delta)
        back[t] = torch.where(keep, arg, ident)
    score, state = delta.max(dim=-1)
    paths = torch.empty(T, N, dtype=torch.long, device=log_b.device)
    for t in range(T - 1, -1, -1):
        paths[t] = state
        if t > 0:
            state = back[t].gather(1, state[:, None])[:, 0].long()
    return score, paths.masked_fill(~valid, -1)
