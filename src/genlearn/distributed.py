"""Small helpers over ``torch.distributed``: who am I, my share of the data, sums across ranks.

genlearn follows PyTorch's own scheme (``torchrun`` or ``torch.multiprocessing`` with gloo on
CPUs, NCCL on GPUs), not one of its own. A model's ``fit`` checks :func:`is_distributed`; when a
process group is initialised, **every rank passes the same data** and takes its part with
:func:`shard`, and what the ranks computed is combined with :func:`all_reduce_sum`. Without a
process group every helper is the one-process identity (rank 0 of 1), so models call them
unconditionally.

    is_distributed() -> bool          a process group with more than one process is initialised
    rank(), world_size() -> int       0 and 1 without a process group
    shard(items, what=...)            items[rank::world_size] (a list, or an array's rows); an
                                      empty shard is a ValueError
    all_reduce_sum(x)                 a tensor, or a dict of tensors, summed over the ranks
    all_gather_array(a) -> list       every rank's numpy array (any number of rows), by rank
    check_same(value, what)           ValueError on every rank unless all ranks passed equal values
    fingerprint(*arrays) -> int       a 62-bit digest of arrays, for check_same
    shutdown()                        barrier, then destroy_process_group
    spawn_for_test(fn, nprocs, *args) run fn(rank, *args) in nprocs gloo processes on localhost
    collective(what)                  context: a peer's death in a collective -> ProcessGroupError
    Sharded(part), own_part(X)        a rank's own part of data too big to pass to every rank
    read_lines(path) -> Sharded       this rank's lines of a text file (every world_size-th)
    read_csv(path) -> Sharded         this rank's rows of a CSV file (a DataFrame), in chunks
    max_int(v), broadcast_arrays(d)   the largest v of all ranks; rank 0's numpy arrays everywhere

Data too big for one process: instead of every rank passing all the data, each passes only its
own part wrapped in :class:`Sharded` (:func:`read_lines` and :func:`read_csv` read a rank's
lines of a corpus or rows of a table without holding the rest). The HMM and the n-gram accept
it: each rank's E-step (counts) covers its part, the vocabulary is the largest over the ranks,
the HMM's initial parameters are rank 0's, and the result is the one-process fit of all the
parts together. So do the row models (VAE, GAN, RBM, DBN), as ``DistributedSampler`` would: each
rank batches its own rows (see :mod:`genlearn.training.distributed_fit`). Outside a process
group a ``Sharded`` is simply the whole data.

Shutting down: every rank must reach a barrier before ``destroy_process_group``; without it a
fast rank can tear the group down while another still talks to it and abort at exit (PyTorch
PR #122358). :func:`shutdown` does both. Errors that depend only on data every rank has (an
empty shard, mismatched data) are raised on every rank at the same point, so no rank is left
waiting in a collective.

A rank that dies (a crash, ``kill``, out of memory) closes its connections, and the others fail
at their next collective at once -- gloo's "Connection closed by peer", NCCL's communicator
error -- which the helpers here (and the data-parallel fit) raise as :class:`ProcessGroupError`,
one line that says what was being combined and that another process stopped. A rank that hangs
without dying is only noticed after the process group's ``timeout``; :func:`default_timeout`
(``GENLEARN_DIST_TIMEOUT`` seconds, 600 unless set) is what genlearn gives the groups it creates.
After such a failure the group is unusable: :func:`shutdown` then skips the barrier (nobody
would reach it) and only destroys the group. ``torchrun`` also stops the remaining ranks as soon
as one fails.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import traceback
from datetime import timedelta

import numpy as np
import torch


class ProcessGroupError(RuntimeError):
    """Another process of the group stopped (crashed, was killed, or hung past the timeout)
    while this one waited for it in a collective; the group cannot be used any more."""


_BROKEN = {"value": False}


def default_timeout() -> timedelta:
    """The timeout genlearn gives the process groups it creates: ``GENLEARN_DIST_TIMEOUT``
    seconds (600 unless set): how long a rank waits for a peer that hangs without dying."""
    raw = os.environ.get("GENLEARN_DIST_TIMEOUT", "600")
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"GENLEARN_DIST_TIMEOUT must be a number of seconds; got {raw!r}"
                         ) from None
    if not seconds > 0:
        raise ValueError(f"GENLEARN_DIST_TIMEOUT must be positive; got {raw!r}")
    return timedelta(seconds=seconds)


@contextlib.contextmanager
def collective(what: str):
    """Run collectives; a failure of the group itself becomes :class:`ProcessGroupError`.

    Inside a process group of several ranks, a ``RuntimeError`` (gloo and NCCL raise it, also
    for a timeout) or ``torch.distributed.DistBackendError`` from the block means a peer is
    gone: it is re-raised as one line naming ``what`` and this rank, the original chained.
    """
    try:
        yield
    except ProcessGroupError:
        raise
    except RuntimeError as exc:
        if not is_distributed():
            raise
        _BROKEN["value"] = True
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ProcessGroupError(
            f"{what} failed on rank {rank()} of {world_size()}: another process of the group "
            f"stopped (crashed, was killed, or hung past the timeout) [{first[:200]}]") from exc


class Sharded:
    """This rank's own part of a data set (see the module docstring): ``fit(Sharded(part))``
    tells a model that the ranks hold different data, so it neither compares nor shards it."""

    __slots__ = ("part",)

    def __init__(self, part):
        if isinstance(part, Sharded):
            part = part.part
        self.part = part

    def __len__(self) -> int:
        return len(self.part)

    def __repr__(self) -> str:
        return f"Sharded({len(self.part)} items, rank {rank()} of {world_size()})"


def own_part(X):
    """``(data, True)`` for a :class:`Sharded` inside a process group of several ranks, else
    ``(data, False)``: the ranks hold the same data, or there is one process."""
    if isinstance(X, Sharded):
        return X.part, is_distributed()
    return X, False


def read_lines(path, *, encoding: str = "utf-8", keep_ends: bool = False) -> Sharded:
    """This rank's lines of a text file, lines ``rank, rank + world_size, ...``, read as a
    stream (the other ranks' lines are never held); empty lines included."""
    r, w, out = rank(), world_size(), []
    with open(path, encoding=encoding, newline="") as f:
        for i, line in enumerate(f):
            if i % w == r:
                out.append(line if keep_ends else line.rstrip("\r\n"))
    return Sharded(out)


def read_csv(path, *, chunksize: int = 65_536, **kwargs) -> Sharded:
    """This rank's rows of a CSV file (rows ``rank, rank + world_size, ...`` of the table) as a
    pandas DataFrame with the file's columns, read in chunks of ``chunksize`` rows so the other
    ranks' rows are never held; ``kwargs`` go to ``pandas.read_csv``."""
    try:
        import pandas as pd
    except ModuleNotFoundError:
        raise ModuleNotFoundError("reading a CSV needs pandas: pip install genlearn[tables]"
                                  ) from None
    r, w, parts, start = rank(), world_size(), [], 0
    with pd.read_csv(path, chunksize=chunksize, **kwargs) as reader:
        for chunk in reader:
            first = (r - start) % w  # this rank's first row in the chunk
            parts.append(chunk.iloc[first::w])
            start += len(chunk)
    return Sharded(pd.concat(parts) if parts else pd.DataFrame())


def max_int(value: int) -> int:
    """The largest ``value`` passed by any rank (``value`` itself without a process group)."""
    if not is_distributed():
        return int(value)
    t = torch.tensor([int(value)], dtype=torch.int64)
    with collective("taking the maximum across processes"):
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return int(t)


def broadcast_arrays(arrays: dict) -> dict:
    """Rank 0's float64 arrays on every rank (same names and shapes everywhere)."""
    if not is_distributed():
        return arrays
    out = {}
    with collective("sending rank 0's arrays to every process"):
        for name in sorted(arrays):
            t = torch.from_numpy(np.array(arrays[name], dtype=np.float64))
            torch.distributed.broadcast(t, src=0)
            out[name] = t.numpy()
    return out


def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    return (torch.distributed.is_available() and torch.distributed.is_initialized()
            and torch.distributed.get_world_size() > 1)


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return torch.distributed.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes (1 without a process group)."""
    return torch.distributed.get_world_size() if is_distributed() else 1


def shard(items, what: str = "sequences"):
    """This rank's share of ``items``: every ``world_size``-th item from ``rank`` on.

    ``items`` is a list (of sequences, say) or an array or tensor (its rows; the result is a
    strided view, no copy); other iterables become a list. Strided, as
    ``torch.utils.data.DistributedSampler`` is, so long and short items spread over the ranks
    when the input is sorted. Raises ``ValueError`` (on every rank) when a rank would get
    nothing.
    """
    if not isinstance(items, (list, tuple, np.ndarray, torch.Tensor)):
        items = list(items)
    n, w = len(items), world_size()
    if n < w:
        raise ValueError(f"{n} {what} cannot be shared among {w} processes: rank {n} and above "
                         f"would get none; use at most {n} processes or more data")
    return items[rank()::w]


def all_reduce_sum(x):
    """The sum over ranks of a tensor (a new tensor) or of every tensor in a dict."""
    if isinstance(x, dict):
        return {k: all_reduce_sum(v) for k, v in x.items()}
    out = x.clone()
    if is_distributed():
        with collective("summing across processes (all_reduce)"):
            torch.distributed.all_reduce(out, op=torch.distributed.ReduceOp.SUM)
    return out


def all_gather_array(a: np.ndarray) -> list:
    """Every rank's array, by rank: same dtype and trailing shape, any number of rows."""
    if not is_distributed():
        return [a]
    t = torch.from_numpy(np.ascontiguousarray(a))
    sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(world_size())]
    with collective("gathering arrays from every process (all_gather)"):
        torch.distributed.all_gather(sizes, torch.tensor([t.shape[0]]))
        padded = torch.zeros((max(int(n) for n in sizes), *t.shape[1:]), dtype=t.dtype)
        padded[: t.shape[0]] = t
        out = [torch.empty_like(padded) for _ in sizes]
        torch.distributed.all_gather(out, padded)
    return [o[: int(n)].numpy() for o, n in zip(out, sizes, strict=True)]


def fingerprint(*arrays) -> int:
    """A 62-bit digest of the arrays' dtypes, shapes and bytes (equal data, equal digest)."""
    h = hashlib.blake2b(digest_size=8)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return int.from_bytes(h.digest(), "little") >> 2


def check_same(value: int, what: str) -> None:
    """Raise ``ValueError`` on every rank unless every rank passed the same integer ``value``
    (e.g. :func:`fingerprint` of its data); a no-op without a process group."""
    if not is_distributed():
        return
    t = torch.tensor([value, -value], dtype=torch.int64)  # max of both = (max, -min)
    with collective(f"comparing {what} across processes"):
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    if int(t[0]) != -int(t[1]):
        raise ValueError(f"{what} differs across the {world_size()} processes; every rank must "
                         "pass the same data (each takes its own shard)")


def shutdown(barrier: bool = True) -> None:
    """Barrier, then ``destroy_process_group`` (see the module docstring); safe to call twice.
    After a :class:`ProcessGroupError`, or with ``barrier=False`` (a rank leaving on an error
    of its own, which its peers learn from the closed connection), the barrier is skipped."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        try:
            if barrier and not _BROKEN["value"]:
                with collective("the barrier before shutting the process group down"):
                    torch.distributed.barrier()
        finally:
            _BROKEN["value"] = False
            torch.distributed.destroy_process_group()


def free_port() -> int:
    """A TCP port on localhost that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank_: int, nprocs: int, port: int, fn, args, queue, timeout_s: float) -> None:
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        torch.distributed.init_process_group(
            "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank_, world_size=nprocs,
            timeout=timedelta(seconds=timeout_s))
        result = fn(rank_, *args)
        shutdown()
        queue.put((rank_, True, result))
    except BaseException as exc:  # report every failure to the parent, never hang it
        queue.put((rank_, False, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


def spawn_for_test(fn, nprocs: int, *args, timeout_s: float = 60.0) -> list:
    """Run ``fn(rank, *args)`` in ``nprocs`` fresh processes joined in a gloo process group on
    localhost (one torch thread each); return their results, by rank.

    ``fn`` must be importable by name (a module-level function) and its result picklable. A
    rank that raises makes this raise ``RuntimeError`` with that rank's traceback (a rank that
    dies without a word is reported with its exit code once the others have answered); ranks
    still running after ``timeout_s`` are terminated and reported.
    """
    import queue as queue_mod
    import time

    ctx = torch.multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_worker, args=(r, nprocs, port, fn, args, queue, timeout_s),
                         daemon=True) for r in range(nprocs)]
    for p in procs:
        p.start()
    results, errors, answered, dead = {}, [], set(), set()
    deadline = time.monotonic() + timeout_s
    try:  # read before joining: a child blocks on exit until its result is read
        while len(answered | dead) < nprocs and time.monotonic() < deadline:
            try:
                r, ok, value = queue.get(timeout=0.25)
            except queue_mod.Empty:  # died without a word (os._exit, a signal)?
                dead |= {r for r, p in enumerate(procs) if p.exitcode not in (None, 0)}
                continue
            answered.add(r)
            if ok:
                results[r] = value
            else:
                errors.append(f"rank {r}: {value}")
    finally:
        for p in procs:
            p.join(max(0.1, min(5.0, deadline - time.monotonic())))
            if p.is_alive():
                p.terminate()
                p.join()
    errors += [f"rank {r}: exited with code {procs[r].exitcode} without a result"
               for r in sorted(dead - answered)]
    if errors:
        raise RuntimeError("a spawned process failed:\n" + "\n".join(sorted(errors)))
    missing = [r for r in range(nprocs) if r not in results]
    if missing:
        raise RuntimeError(f"rank(s) {missing} gave no result within {timeout_s} s (exit codes "
                           f"{[procs[r].exitcode for r in missing]}); terminated")
    return [results[r] for r in range(nprocs)]
