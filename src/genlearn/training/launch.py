"""``genlearn train ... --nproc N``: start ``torchrun`` for the user, and join its process group.

``torchrun --nproc-per-node N -m genlearn train MODEL ...`` starts N copies of the command with
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and a rendezvous address in their environment;
:func:`process_group` initialises the process group from them (NCCL with one GPU per process
when CUDA is there and the model is not told ``device=cpu``, gloo otherwise) and, at the end,
reaches the barrier before ``destroy_process_group`` (:func:`genlearn.distributed.shutdown`).
``--nproc N`` runs that torchrun command itself (:func:`torchrun`); every rank then loads the
same data and :mod:`genlearn.training.distributed_fit` shares it out. Only rank 0 writes the
checkpoint, pictures and report (:func:`fit_other_rank` is what the other ranks run).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import torch

from .. import distributed


def launched() -> bool:
    """True in a process that torchrun (or a similar launcher) started as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def strip_nproc(argv: list[str]) -> list[str]:
    """``argv`` without ``--nproc N`` / ``--nproc=N``."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def torchrun_command(nproc: int, argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={int(nproc)}", "-m", "genlearn", *strip_nproc(argv)]


def torchrun(nproc: int, argv: list[str]) -> int:
    """Run ``genlearn <argv>`` in ``nproc`` processes under torchrun; its exit code."""
    if nproc < 1:
        raise ValueError(f"--nproc must be at least 1; got {nproc}")
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # torchrun's own default, said aloud
    code = subprocess.run(torchrun_command(nproc, argv), env=env, check=False).returncode
    if code != 0:  # torchrun has stopped the other ranks and printed the failing one's error
        print(f"genlearn: {nproc} processes under torchrun: at least one failed (exit code "
              f"{code}; its error is above); checkpoints written before the failure are intact "
              "and --resume continues from the last one", file=sys.stderr)
    return code


def run(args, body, device: str | None = "auto") -> int:
    """What a training command with ``--nproc`` does: with ``args.nproc`` > 1, outside torchrun,
    run the same command in that many processes under torchrun (:func:`torchrun`); else run
    ``body(args)`` inside :func:`process_group` (joining torchrun's group when it started us)."""
    if args.nproc < 1:
        raise ValueError(f"--nproc must be at least 1; got {args.nproc}")
    if args.nproc > 1 and not launched():  # torchrun runs this command N times
        return torchrun(args.nproc, getattr(args, "argv", sys.argv[1:]))
    with process_group(device):
        return body(args)


@contextlib.contextmanager
def process_group(device: str | None = "auto"):
    """Initialise the process group from torchrun's environment (if launched and not yet
    initialised), with :func:`genlearn.distributed.default_timeout`; on leaving, barrier +
    destroy (only a group this call created; no barrier when leaving on an error)."""
    created = False
    if launched() and not torch.distributed.is_initialized():
        use_cuda = torch.cuda.is_available() and str(device or "auto") != "cpu"
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        torch.distributed.init_process_group("nccl" if use_cuda else "gloo",
                                             timeout=distributed.default_timeout())
        created = True
    ok = False
    try:
        yield
        ok = True
    finally:
        if created:  # leaving on an error: no barrier, the peers see the connection close
            distributed.shutdown(barrier=ok)


def fit_other_rank(args, cls, model, train, resuming: bool) -> int:
    """What a rank other than 0 does in ``genlearn train``: the same fit, writing nothing."""
    conditional = args.labels or (resuming and getattr(model, "classes_", None) is not None)
    kwargs = {"resume": True} if resuming else {}
    if cls.conditional:
        kwargs["y"] = train.y if conditional else None
    model.set_params(verbose=False)
    model.fit(train.X, **kwargs)
    return 0
