"""``genlearn text train`` in a process group (issue 15 for the text models).

One spawn of 2 gloo processes (genlearn.distributed.spawn_for_test; starting processes is the
slow part) runs, on every rank: the CLI command as torchrun would (the group already exists),
and a Transformer whose ranks read clocks that disagree, with a time budget. The one-process
run in this process is the reference.
"""

import numpy as np
import pytest
import torch

from genlearn import distributed

TEXT = "the cat sat on the mat.\nthe dog ate the log.\n" * 40
ARGS = ["--model", "transformer", "--epochs", "3", "--n-layer", "1", "--n-head", "2",
        "--n-embd", "16", "--block-size", "16", "--batch-size", "8", "--seq-len", "64",
        "--warmup", "2", "--dropout", "0", "--device", "cpu", "--threads", "1", "-q"]


def _tiny_transformer(**kw):
    from genlearn.models.transformer import Transformer

    return Transformer(n_layer=1, n_head=2, n_embd=16, block_size=10, epochs=50, batch_size=8,
                       warmup=2, val_fraction=0.0, seed=3, device="cpu", verbose=False,
                       threads=1, **kw)


def _on_rank(rank, corpus, out):
    import genlearn
    from genlearn.cli import main
    from genlearn.models import autoregressive

    assert main(["text", "train", corpus, "--out", out, *ARGS]) == 0
    text = {"params": {}}
    if rank == 0:
        text["params"] = {k: v.numpy().copy()
                          for k, v in genlearn.load(out).net_.state_dict().items()}
    # a time budget on clocks that disagree: rank 1's runs twice as fast as rank 0's
    ticks = [0.0]

    def clock():
        ticks[0] += 1.0 + rank
        return ticks[0]

    autoregressive.CLOCKS["fake"] = clock  # this spawned process only
    model = _tiny_transformer(max_time=40.0, clock="fake")
    model.fit([np.random.default_rng(1).integers(0, 5, size=400)])
    timed = {"steps": model.steps_, "stop": model.stop_reason_,
             "params": {k: v.numpy().copy() for k, v in model.net_.state_dict().items()}}
    return {"text": text, "timed": timed}


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    root = tmp_path_factory.mktemp("text_ddp")
    corpus = root / "corpus.txt"
    corpus.write_text(TEXT)
    out = root / "two"
    results = distributed.spawn_for_test(_on_rank, 2, str(corpus), str(out), timeout_s=120)
    return results, corpus, out


def test_text_train_in_two_processes_equals_one(two_ranks, tmp_path, capsys):
    import genlearn
    from genlearn.cli import main

    (a, b), corpus, out = two_ranks
    assert b["text"]["params"] == {}  # rank 1 wrote nothing; rank 0 wrote the checkpoint
    torch.set_num_threads(1)
    assert main(["text", "train", str(corpus), "--out", str(tmp_path / "one"), *ARGS]) == 0
    one = genlearn.load(tmp_path / "one")
    two = genlearn.load(out)
    assert two.epochs_trained_ == one.epochs_trained_ == 3
    for k, v in one.net_.state_dict().items():  # the same global batches, the same model
        np.testing.assert_allclose(a["text"]["params"][k], v.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=k)
    assert "in 2 processes" not in capsys.readouterr().out  # one process says nothing of it


def test_a_time_budget_stops_every_rank_at_the_same_step(two_ranks):
    (a, b), _, _ = two_ranks
    # rank 1's clock reaches the budget first (two ticks a step, plus the start); the ranks
    # agree on the largest share used, so both stop together with the same learning rates
    assert a["timed"]["stop"] == b["timed"]["stop"] == "max_time"
    assert a["timed"]["steps"] == b["timed"]["steps"] < 40
    for k, v in a["timed"]["params"].items():
        np.testing.assert_array_equal(v, b["timed"]["params"][k], err_msg=k)


def test_text_train_nproc_starts_torchrun(monkeypatch, one_line_error):
    import subprocess

    from genlearn.cli import main

    seen = []
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: seen.append(cmd)
                        or subprocess.CompletedProcess(cmd, 0))
    assert main(["text", "train", "c.txt", "--nproc", "2", "--epochs", "1"]) == 0
    assert seen[0][1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           "-m", "genlearn", "text", "train", "c.txt", "--epochs", "1"]
    one_line_error(["text", "train", "c.txt", "--nproc", "0"], "--nproc must be at least 1")
