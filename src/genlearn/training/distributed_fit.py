"""Data-parallel training of the epoch-trained models across processes (``torchrun``, gloo/NCCL).

When :func:`genlearn.distributed.is_distributed` is true, :class:`~.epoch.EpochModel.fit`
hands its epoch loop to :func:`run_fit`, which makes N processes train one model as one process
would with the same global mini-batch:

* **Same inputs, same order.** Every rank passes the same data (:func:`check_inputs` compares a
  digest across ranks: a clear error, raised on every rank, when they differ); the seed is rank
  0's (:func:`agree_seed`), so the data-order generator draws the same permutation everywhere
  and the loop yields the same **global** mini-batch of indices on every rank.
* **Each global batch split across ranks.** Rank r trains on ``idx[r::N]`` (strided, as
  ``DistributedSampler`` is). A rank left with no item (a last batch shorter than N) runs its
  step on a copy of one item with weight 0, so every rank takes part in every collective.
* **Gradients averaged before every optimizer step.** Rank r's gradient of its mean loss is
  weighted by ``n_r / n`` (``n_r`` its items, ``n`` the global batch) and summed across ranks
  with ``all_reduce``: the gradient of the global batch's mean loss, exactly, even for an
  uneven last batch (DDP's plain mean over ranks is the same when the shards are equal).
  This is what ``DistributedDataParallel`` does -- its reducer hooks every parameter's gradient
  accumulation and, when autograd's backward pass ends, all-reduces the gradients -- done here
  with the same two mechanisms (``Tensor.register_post_accumulate_grad_hook`` and autograd's
  end-of-backward callback) instead of wrapping a module, because genlearn's steps do not go
  through one module's ``forward``: a VAE calls ``net.encode``/``net.decode``, a GAN has two
  networks, two optimizers and a gradient penalty (``autograd.grad`` with ``create_graph``,
  which accumulates nothing and so triggers nothing). The reduction happens when backward
  ends, before the model's own gradient clipping, as in DDP, so a clipped Transformer or RNN
  sees the global gradient's norm. Gradients accumulated on top of already averaged ones (a
  GAN's generator step reaching the discriminator's weights) stay correct: the sum is linear.
* **The RBM** computes its contrastive-divergence update without autograd or a torch
  optimizer (momentum SGD written out). Its update is linear in the batch statistics, so
  averaging the weights and velocities after each step (weighted as above) equals averaging
  the statistics before it. Each rank keeps its own persistent chains (PCD), so the negative
  phase sees N x ``n_chains`` chains: the one place where N processes differ from one.
* **The same model everywhere.** Parameters and buffers are broadcast from rank 0 when the
  loop starts (as DDP does at construction); the step's metrics are averaged (weighted) on
  every step, so the non-finite-loss check takes the same decision on every rank; the
  end-of-epoch validation runs on every rank on the same data and is averaged across ranks,
  so early stopping agrees too. The torch generator is re-seeded per rank (from one draw of
  the shared generator plus the rank) so a VAE's or GAN's noise differs between ranks, as in
  any data-parallel run.
* **Rank 0 speaks.** The callback (checkpoints, pictures) runs on rank 0 only and progress bars
  are off on the other ranks. A checkpoint holds no trace of the number of processes, so a
  run saved by N processes resumes in M (or one).

* **Each rank its own rows** (data too big for one process: ``fit(Sharded(part))``, see
  :class:`genlearn.distributed.Sharded`). Then, as ``DistributedSampler`` does, each rank
  shuffles and batches its own part with ``batch_size / N`` rows per step, the parts padded to
  the largest by repeating their first rows so every rank takes the same number of steps, and
  the gradients are averaged with weight ``1 / N``: the global batch is ``batch_size`` rows,
  the same distribution of batches as one process on the union, not the same batches. What a
  model learns from the data before training (feature count, classes, a standardisation) comes
  from all the parts: the classes are the union; the description from up to
  :data:`DESCRIBE_ROWS` rows of each part, gathered on every rank. Row models only (the
  sequence networks need the same data on every rank).
* **A rank that stops.** When a process dies mid-epoch (a crash, ``kill``, out of memory), the
  others fail at the next gradient or metric all-reduce at once (gloo reports the closed
  connection) and raise :class:`genlearn.distributed.ProcessGroupError` naming the epoch and the
  step, and saying that the checkpoints written so far are untouched: rank 0 writes a
  checkpoint only between epochs, atomically (:mod:`genlearn.io`), so the last one loads and
  ``resume`` continues from it, in any number of processes.

Not covered: BatchNorm statistics are per rank (as in DDP without ``SyncBatchNorm``; rank 0's
buffers are kept at the broadcast); a step that raises on one rank only (a user callback) or
a rank that hangs without dying leaves the others waiting for the process group's timeout
(:func:`genlearn.distributed.default_timeout` for the groups genlearn creates), after which
they raise the same error. (Time limits are agreed: the Transformer/RNN take the
largest time used over the ranks at every step, the frame models at the end of every epoch, so
every rank stops at the same point.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib

import numpy as np
import torch

from .. import distributed as dist


# -- inputs ----------------------------------------------------------------------------------
def _digest(obj, h, depth: int = 0) -> None:
    if depth > 20:
        raise ValueError("the training data is nested too deeply to compare across processes")
    if obj is None:
        h.update(b"N")
    elif isinstance(obj, torch.Tensor):
        _digest(obj.detach().cpu().numpy(), h, depth)
    elif isinstance(obj, np.ndarray) and obj.dtype != object:
        a = np.ascontiguousarray(obj)
        h.update(f"A{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    elif isinstance(obj, (str, bytes)):
        b = obj.encode() if isinstance(obj, str) else obj
        h.update(b"S%d:" % len(b) + b)
    elif isinstance(obj, dict):
        h.update(b"D%d" % len(obj))
        for k in sorted(obj, key=repr):
            _digest(repr(k), h, depth + 1)
            _digest(obj[k], h, depth + 1)
    elif isinstance(obj, (list, tuple, np.ndarray)):
        h.update(b"L%d" % len(obj))
        for x in obj:
            _digest(x, h, depth + 1)
    elif hasattr(obj, "to_numpy") and hasattr(obj, "columns"):  # a pandas DataFrame
        _digest([str(c) for c in obj.columns], h, depth + 1)
        _digest(obj.to_numpy(), h, depth + 1)
    else:
        h.update(repr(obj).encode())


def data_digest(X, y=None) -> int:
    """A 62-bit digest of the training inputs (arrays, tensors, lists of sequences, strings)."""
    h = hashlib.blake2b(digest_size=8)
    _digest(X, h)
    _digest(y, h)
    return int.from_bytes(h.digest(), "little") >> 2


def check_inputs(X, y=None) -> None:
    """ValueError on every rank unless every rank passed the same ``X`` and ``y``; a no-op
    without a process group."""
    if dist.is_distributed():
        dist.check_same(data_digest(X, y), "the training data (X, y)")


# -- each rank its own rows ----------------------------------------------------------------------
DESCRIBE_ROWS = 10_000  # rows of each part gathered for the data description


def own_rows(model, X):
    """``(rows, True)`` when each rank passed its own part (a ``Sharded`` in a process group),
    after checking the model can train that way; else ``(X, False)``."""
    X, own = dist.own_part(X)
    if own:
        name, w = type(model).__name__, dist.world_size()
        if type(model).input_kind != "rows":
            raise ValueError(f"{name} trains on the same data on every rank; each rank's own "
                             "part (Sharded) is for the row models (VAE, GAN, RBM, DBN) and "
                             "the HMM and n-gram")
        b, m = int(model.batch_size), int(getattr(model, "pack", 1))
        if b % (w * m):
            raise ValueError(f"batch_size={b} must be a multiple of the number of processes "
                             f"({w}) times pack ({m}) for each rank to take its share of a "
                             "batch from its own rows")
    return X, own


def all_classes(local: np.ndarray, own: bool) -> np.ndarray:
    """The class labels of every rank's part (``local`` alone when the ranks share data)."""
    if not own:
        return local
    if not np.issubdtype(local.dtype, np.number):
        raise ValueError("y: each rank's own part (Sharded) needs numeric class labels "
                         f"(got {local.dtype}); map them to integers on every rank alike")
    return np.unique(np.concatenate(dist.all_gather_array(local)))


def description_rows(flat: np.ndarray, data_shape, own: bool) -> np.ndarray:
    """The rows a model describes the data from: its rows, or with own parts up to
    ``DESCRIBE_ROWS`` rows of each rank's part, the same on every rank."""
    if not own:
        return flat
    dist.check_same(dist.fingerprint(np.asarray(data_shape, dtype=np.int64)),
                    "the shape of a row")
    return np.concatenate(dist.all_gather_array(np.ascontiguousarray(flat[:DESCRIBE_ROWS])))


def even_parts(data):
    """A rank's part padded to the largest part's size by repeating its first rows."""
    n = len(data)
    top = dist.max_int(n)
    if n == top:
        return data
    idx = torch.arange(top) % n
    if isinstance(data, torch.Tensor):  # (Tensor.take would index the flattened tensor)
        return data[idx.to(data.device)]
    return data.take(idx)


@contextlib.contextmanager
def local_batch(model, split: bool = True):
    """``model.batch_size`` is ``batch_size / N`` inside the block (when ``split``): a rank's
    share of each global batch."""
    if not split:
        yield
        return
    saved = model.batch_size
    model.batch_size = int(saved) // dist.world_size()
    try:
        yield
    finally:
        model.batch_size = saved


def agree_seed(seed: int) -> int:
    """Rank 0's seed on every rank (a seed drawn from entropy differs per process)."""
    if not dist.is_distributed():
        return seed
    t = torch.tensor([seed], dtype=torch.int64)
    with dist.collective("agreeing on the seed"):
        torch.distributed.broadcast(t, src=0)
    return int(t)


# -- splitting a global batch -------------------------------------------------------------------
class StridedSplit:
    """Rank r takes ``idx[r::N]``; the step sees those items only."""

    def check(self, model, plan) -> None:
        pass

    def local(self, model, idx: torch.Tensor, r: int, w: int) -> torch.Tensor:
        return idx[r::w]

    def weight(self, local, idx, w) -> float:
        return len(local) / len(idx)

    def step(self, model, fn):
        return fn()


class ChunkedSplit(StridedSplit):
    """A GAN's step takes ``n_critic`` discriminator batches of ``batch_size`` rows (packed
    ``pack`` at a time) from one index tensor: rank r takes ``chunk[r::N]`` of every batch and
    runs the step with ``batch_size / N``, so the discriminator and generator batches are split
    as a whole."""

    def check(self, model, plan) -> None:
        w, b, m = dist.world_size(), int(model.batch_size), int(getattr(model, "pack", 1))
        if b % (w * m):
            raise ValueError(f"batch_size={b} must be a multiple of the number of processes "
                             f"({w}) times pack ({m}) to split each batch across processes")

    def local(self, model, idx, r, w):
        return torch.cat([c[r::w] for c in idx.split(int(model.batch_size))])

    def step(self, model, fn):
        with local_batch(model):
            return fn()


class OwnSplit(StridedSplit):
    """Each rank its own rows: the loop's batch (``batch_size / N`` rows) is all this rank's,
    weighted ``1 / N``; the step runs with ``batch_size / N``."""

    def local(self, model, idx, r, w):
        return idx

    def weight(self, local, idx, w) -> float:
        return 1.0 / w

    def step(self, model, fn):
        with local_batch(model):
            return fn()


def _split_for(model) -> StridedSplit:
    names = {c.__name__ for c in type(model).__mro__}
    return ChunkedSplit() if "GAN" in names else StridedSplit()


# -- averaging across ranks ---------------------------------------------------------------------
def _reduce_weighted(tensors: list[torch.Tensor], weight: float) -> None:
    """tensors <- sum over ranks of weight_r * tensors_r, in place, one all_reduce per dtype
    and device."""
    groups: dict = {}
    for t in tensors:
        groups.setdefault((t.dtype, t.device), []).append(t)
    for ts in groups.values():
        flat = torch.cat([t.reshape(-1) for t in ts]) * weight
        with dist.collective("averaging gradients across processes"):
            torch.distributed.all_reduce(flat, op=torch.distributed.ReduceOp.SUM)
        offset = 0
        for t in ts:
            t.copy_(flat[offset:offset + t.numel()].view_as(t))
            offset += t.numel()


class GradientAverager:
    """Weighted all-reduce of the gradients of ``params`` at the end of every backward pass
    (see the module docstring: DDP's reducer, without its buckets)."""

    def __init__(self, params: list[torch.Tensor]):
        self.params = params  # same order on every rank
        self.weight = 1.0
        self._touched: set[int] = set()
        self._queued = False
        self._handles = [p.register_post_accumulate_grad_hook(self._on_grad) for p in params]

    def _on_grad(self, p: torch.Tensor) -> None:
        self._touched.add(id(p))
        if not self._queued:
            self._queued = True
            torch.autograd.Variable._execution_engine.queue_callback(self._reduce)

    def _reduce(self) -> None:
        grads = [p.grad for p in self.params if id(p) in self._touched and p.grad is not None]
        self._touched.clear()
        self._queued = False
        _reduce_weighted(grads, self.weight)

    def after_step(self) -> None:
        pass

    def close(self) -> None:
        for h in self._handles:
            h.remove()


class StateAverager:
    """Weighted average of a model's own trained tensors after every step (the RBM: momentum
    SGD is linear in the statistics, so this equals averaging them); its chains stay local."""

    LOCAL = ("chains",)

    def __init__(self, model):
        self.model = model
        self.weight = 1.0

    def _tensors(self) -> list[torch.Tensor]:
        return [t for k, t in self.model._state_tensors().items()
                if k not in self.LOCAL and t.is_floating_point()]

    def after_step(self) -> None:
        _reduce_weighted(self._tensors(), self.weight)

    def close(self) -> None:
        pass


def _optimizer_params(model) -> list[torch.Tensor]:
    seen, out = set(), []
    for part in model._trainables().values():
        if isinstance(part, torch.optim.Optimizer):
            for group in part.param_groups:
                for p in group["params"]:
                    if p.requires_grad and id(p) not in seen:
                        seen.add(id(p))
                        out.append(p)
    return out


def _shared_tensors(model) -> list[torch.Tensor]:
    """What must be equal on every rank: the networks' parameters and buffers (or the RBM's
    trained tensors)."""
    out = []
    for part in model._trainables().values():
        if isinstance(part, torch.nn.Module):
            out += [t.data for t in part.parameters()] + list(part.buffers())
    if not out and hasattr(model, "_state_tensors"):
        out = [t for k, t in model._state_tensors().items() if k not in StateAverager.LOCAL]
    return out


def _broadcast_from_rank0(tensors: list[torch.Tensor]) -> None:
    with torch.no_grad(), dist.collective("sending rank 0's parameters to every process"):
        for t in tensors:
            torch.distributed.broadcast(t, src=0)


def _mean_metrics(metrics: dict, weight: float) -> dict:
    if not metrics:
        return metrics
    keys = sorted(metrics)
    t = torch.tensor([float(metrics[k]) * weight for k in keys], dtype=torch.float64)
    with dist.collective("averaging the step's metrics across processes"):
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
    return dict(zip(keys, t.tolist(), strict=True))


# -- the loop -----------------------------------------------------------------------------------
def run_fit(model, plan, start: int, gen: torch.Generator, callback, own: bool = False) -> None:
    """``model._run(plan, start, gen, callback)``, across the ranks of the process group when
    there is one (see the module docstring); exactly ``model._run`` otherwise. ``own``: each
    rank trains on its own rows (``plan`` made with ``batch_size / N``)."""
    if not dist.is_distributed():
        model._run(plan, start, gen, callback)
        return
    r, w = dist.rank(), dist.world_size()
    n = len(plan.data)
    if n < w and not own:
        raise ValueError(f"{n} training items cannot be shared among {w} processes; use at "
                         f"most {n} processes (--nproc) or more data")
    split = OwnSplit() if own else _split_for(model)
    split.check(model, plan)
    _broadcast_from_rank0(_shared_tensors(model))
    # one draw of the shared generator, plus the rank: different noise per rank, reproducible
    torch.manual_seed(int(torch.randint(2**62, (1,))) + r)
    params = _optimizer_params(model)
    averager = GradientAverager(params) if params else StateAverager(model)
    inner = type(model)._train_step.__get__(model)
    where = {"epoch": start, "step": 0}

    def step(data, idx, epoch):
        where["step"] = where["step"] + 1 if where["epoch"] == epoch else 1
        where["epoch"] = epoch
        local = split.local(model, idx, r, w)
        weight = split.weight(local, idx, w)
        if len(local) == 0:  # take part in every collective, contributing nothing
            local, weight = idx[:1], 0.0
        averager.weight = weight
        metrics = split.step(model, lambda: inner(data, local, epoch))
        averager.after_step()
        return _mean_metrics(metrics, weight)

    evaluate = plan.evaluate
    if evaluate is not None:
        def evaluate_everywhere(epoch):
            return _mean_metrics(evaluate(epoch), 1.0 / w)
        plan = dataclasses.replace(plan, evaluate=evaluate_everywhere)
    verbose = model.verbose
    model._train_step = step  # this fit only; the class's method comes back below
    if r != 0:
        model.verbose = False
    try:
        model._run(plan, start, gen, callback if r == 0 else None)
    except dist.ProcessGroupError as exc:
        raise dist.ProcessGroupError(
            f"training stopped in epoch {where['epoch'] + 1}, step {where['step']}: {exc}; the "
            "checkpoints written before this epoch are intact (resume=True / --resume continues "
            "from the last one, in any number of processes)") from exc
    finally:
        model.__dict__.pop("_train_step", None)
        model.verbose = verbose
        averager.close()

