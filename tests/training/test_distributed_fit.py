"""The epoch-trained families across 2 gloo processes (training/distributed_fit.py, issue 15).

One spawn (genlearn.distributed.spawn_for_test; starting processes is the slow part) trains
every family on tiny data in 2 processes; the one-process fit in this process is the reference.
"""

import numpy as np
import pytest
import torch

import genlearn
from genlearn import distributed
from genlearn.models.dbn import DBN
from genlearn.models.gan import GAN
from genlearn.models.rbm import RBM
from genlearn.models.rnn import RNN
from genlearn.models.transformer import Transformer
from genlearn.models.vae import VAE
from genlearn.training import distributed_fit


def _stream():
    # one stream: every window is full, so every item has the same number of targets and the
    # mean over a rank's items weighted by its share is the mean over the global batch
    return [np.random.default_rng(1).integers(0, 5, size=400)]


def _rows(n=37, d=6):
    return (np.random.default_rng(2).random((n, d)) > 0.5).astype(np.float64)


def _transformer(epochs=4):
    # 37 windows a epoch, batch 8: an uneven last batch (5 items: 3 + 2 across the ranks)
    return Transformer(n_layer=1, n_head=2, n_embd=16, block_size=10, epochs=epochs,
                       batch_size=8, warmup=2, dropout=0.0, val_fraction=0.1, patience=None,
                       seed=3, device="cpu", verbose=False, threads=1)


def _others():
    return {
        "vae": (VAE(latent_dim=2, hidden=(8,), epochs=2, batch_size=8, seed=0, device="cpu",
                    verbose=False, threads=1), _rows()),
        "rbm": (RBM(n_hidden=4, epochs=2, batch_size=8, seed=0, device="cpu", verbose=False,
                    threads=1), _rows()),
        "gan": (GAN(latent_dim=2, hidden_g=(8,), hidden_d=(8,), epochs=2, batch_size=8, pack=2,
                    seed=0, device="cpu", verbose=False, threads=1),
                np.random.default_rng(4).normal(size=(40, 2))),
        "dbn": (DBN(layers=(4, 3), epochs=2, batch_size=8, ais_chains=4, ais_betas=10, seed=0,
                    device="cpu", verbose=False, threads=1), _rows()),
        "rnn": (_rnn(), _stream()),
    }


def _rnn():
    return RNN(hidden=8, n_layer=1, block_size=10, epochs=2, batch_size=8, dropout=0.0, warmup=2,
               val_fraction=0.1, patience=None, seed=3, device="cpu", verbose=False, threads=1)


def _params(model) -> dict:
    if isinstance(model, DBN):  # its layers' RBMs, each trained across the ranks
        return {f"{i}.{k}": v for i, rbm in enumerate(model.rbms_)
                for k, v in _params(rbm).items()}
    out = {}
    for name, part in model._trainables().items():
        if not isinstance(part, torch.optim.Optimizer):
            out.update({f"{name}.{k}": v.detach().cpu().numpy().copy()
                        for k, v in part.state_dict().items() if k != "chains"})
    return out


def _on_rank(rank, ckpt):
    saved = []

    def save_at_2(epoch, record):
        saved.append(epoch)
        if epoch == 2:
            model.save(ckpt)

    model = _transformer()
    model.fit(_stream(), callback=save_at_2)
    out = {"losses": [r["loss"] for r in model.history_],
           "val": [r["val_bits_per_symbol"] for r in model.history_],
           "params": _params(model), "callbacks": saved}
    for name, (m, X) in _others().items():
        out[name] = _params(m.fit(X))
        out[name + " history"] = [r["loss"] if "loss" in r else r.get("layer")
                                  for r in m.history_]
    errors = []
    faults = (lambda: _transformer(1).fit([_stream()[0][: 300 + rank]]),  # data differ
              lambda: VAE(epochs=1, device="cpu", verbose=False).fit(_rows(n=1)))  # 1 row, 2 ranks
    for fault in faults:
        try:
            fault()
            errors.append(None)
        except ValueError as exc:
            errors.append(str(exc))
    out["errors"] = errors
    out["own"] = _own_rows(rank)
    return out


def _own_rows(rank):
    """Each rank passes only its own rows (distributed.Sharded): 19 and 18 of the 37."""
    X = np.random.default_rng(5).normal(size=(37, 6)) * [1, 2, 3, 4, 5, 6] + 10
    y = np.where(np.arange(37) < 19, np.arange(37) % 2, 1 + np.arange(37) % 2)  # {0,1} / {1,2}
    part = distributed.Sharded(X[:19] if rank == 0 else X[19:])
    labels = y[:19] if rank == 0 else y[19:]
    saved = []
    vae = VAE(latent_dim=2, hidden=(8,), likelihood="gaussian", epochs=3, batch_size=8, seed=0,
              device="cpu", verbose=False, threads=1)
    vae.fit(part, labels, callback=lambda e, r: saved.append(vae.get_params()["batch_size"]))
    out = {"vae": _params(vae), "center": vae.center_, "scale": vae.scale_,
           "classes": vae.classes_.tolist(), "batch_size": (vae.batch_size, saved),
           "vae history": [r["loss"] for r in vae.history_]}
    binary = distributed.Sharded((part.part > 10).astype(np.float64))
    for name, m in (("rbm", RBM(n_hidden=4, epochs=2, batch_size=8, seed=0, device="cpu",
                                verbose=False, threads=1)),
                    ("dbn", DBN(layers=(4, 3), epochs=2, batch_size=8, ais_chains=4,
                                ais_betas=10, seed=0, device="cpu", verbose=False, threads=1)),
                    ("gan", GAN(latent_dim=2, hidden_g=(8,), hidden_d=(8,), epochs=2,
                                batch_size=8, pack=2, seed=0, device="cpu", verbose=False,
                                threads=1))):
        out[name] = _params(m.fit(binary if name != "gan" else part))
    try:
        _transformer(1).fit(distributed.Sharded(_stream()))
        out["sequence error"] = None
    except ValueError as exc:
        out["sequence error"] = str(exc)
    return out


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    ckpt = tmp_path_factory.mktemp("ddp") / "epoch2"
    return distributed.spawn_for_test(_on_rank, 2, str(ckpt), timeout_s=120), ckpt


def test_every_family_ends_with_the_same_parameters_on_every_rank(two_ranks):
    (a, b), _ = two_ranks
    for family in ("params", "vae", "rbm", "gan", "dbn", "rnn"):
        assert a[family].keys() == b[family].keys() and a[family]
        for k in a[family]:
            np.testing.assert_array_equal(a[family][k], b[family][k], err_msg=f"{family} {k}")
    assert {k.split(".")[0] for k in a["dbn"]} == {"0", "1"}  # both layers on every rank
    assert a["dbn history"] == b["dbn history"] == [0, 0, 1, 1]  # rank 1 logs without callback
    ref = _params(_rnn().fit(_stream()))  # the RNN (dropout 0): the one-process weights
    for k, v in a["rnn"].items():
        np.testing.assert_allclose(v, ref[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_two_processes_follow_the_one_process_loss_curve(two_ranks):
    (a, b), _ = two_ranks
    one = _transformer().fit(_stream())
    assert a["losses"] == b["losses"] and a["val"] == b["val"]  # averaged: one curve
    np.testing.assert_allclose(a["losses"], [r["loss"] for r in one.history_], rtol=1e-5)
    np.testing.assert_allclose(a["val"], [r["val_bits_per_symbol"] for r in one.history_],
                               rtol=1e-5)
    ref = _params(one)
    for k, v in a["params"].items():
        # atol: Adam scales a rounding-level gradient of a barely used weight (seen: ~1e-6
        # apart at |w| ~ 1e-7) up to a step of its own; the rest agree to rtol
        np.testing.assert_allclose(v, ref[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_a_checkpoint_of_two_processes_resumes_in_one(two_ranks):
    (a, _), ckpt = two_ranks
    assert a["callbacks"] == [1, 2, 3, 4]  # rank 0's callback saw every epoch
    model = genlearn.load(ckpt)
    assert model.epochs_trained_ == 2
    model.fit(_stream(), resume=True)
    np.testing.assert_allclose([r["loss"] for r in model.history_], a["losses"], rtol=1e-5)


def test_bad_input_across_processes_is_a_clear_error(two_ranks):
    (a, b), _ = two_ranks
    for errors in (a["errors"], b["errors"]):  # raised on every rank, none left waiting
        assert "differs across the 2 processes" in errors[0]
        assert "1 training items cannot be shared among 2 processes" in errors[1]


def test_data_digest_tells_inputs_apart():
    x = _rows()
    assert distributed_fit.data_digest(x) == distributed_fit.data_digest(x.copy())
    assert distributed_fit.data_digest(x) != distributed_fit.data_digest(x[::-1])
    assert distributed_fit.data_digest(x, [0] * 37) != distributed_fit.data_digest(x)
    seqs = [np.arange(3), np.arange(4)]
    assert distributed_fit.data_digest(seqs) != distributed_fit.data_digest(seqs[::-1])
    assert distributed_fit.data_digest(["ab", "c"]) != distributed_fit.data_digest(["a", "bc"])


def test_train_nproc_starts_torchrun_with_the_same_command(monkeypatch, capsys):
    import subprocess

    from genlearn.cli import main
    from genlearn.training import launch

    seen = []
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: seen.append(cmd)
                        or subprocess.CompletedProcess(cmd, 3))
    argv = ["train", "vae", "--data", "ring", "--nproc", "2", "--epochs", "1", "--nproc=2"]
    assert main(argv) == 3  # torchrun's exit code, and one line saying what it means
    assert "2 processes under torchrun: at least one failed (exit code 3" in capsys.readouterr().err
    assert seen[0][1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           "-m", "genlearn", "train", "vae", "--data", "ring", "--epochs", "1"]
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert launch.launched()  # a rank torchrun started does not start torchrun again


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
def test_cuda_asked_for_without_a_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="device='cuda' was asked for but PyTorch sees no CUDA"):
        VAE(epochs=1, device="cuda", verbose=False).fit(_rows())


def test_outside_torchrun_the_process_group_context_does_nothing(monkeypatch):
    from genlearn.training import launch

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with launch.process_group("cpu"):
        assert not torch.distributed.is_initialized() and distributed.rank() == 0
    assert launch.strip_nproc(["a", "--nproc", "3", "b", "--nproc=2"]) == ["a", "b"]


class _DiesInEpoch2(VAE):
    """A VAE whose process dies (no exception, no goodbye) at the 2nd step of its 2nd epoch."""

    def _train_step(self, data, idx, epoch):
        if epoch == 1 and getattr(self, "_steps_in_2", 0) == 1:
            import os
            os._exit(7)
        if epoch == 1:
            self._steps_in_2 = getattr(self, "_steps_in_2", 0) + 1
        return super()._train_step(data, idx, epoch)


def _rank_dies(rank, ckpt, report):
    """Rank 1 dies mid-epoch 2; rank 0 checkpoints after every epoch and must stop at once."""
    import time

    kwargs = dict(latent_dim=2, hidden=(8,), epochs=4, batch_size=8, seed=0, device="cpu",
                  verbose=False, threads=1)
    model = (_DiesInEpoch2 if rank == 1 else VAE)(**kwargs)
    t0 = time.monotonic()
    try:
        model.fit(_rows(), callback=lambda epoch, record: model.save(ckpt))
    except distributed.ProcessGroupError as exc:
        with open(report, "w") as f:
            f.write(f"{time.monotonic() - t0:.3f}\n{exc}")
        raise


def test_a_rank_that_dies_mid_epoch_stops_the_others_with_a_clear_error(tmp_path):
    ckpt, report = tmp_path / "run", tmp_path / "rank0.txt"
    with pytest.raises(RuntimeError) as info:
        distributed.spawn_for_test(_rank_dies, 2, str(ckpt), str(report), timeout_s=60)
    text = str(info.value)
    assert "rank 1: exited with code 7 without a result" in text  # reported, not waited for
    assert "rank 0: ProcessGroupError" in text
    seconds, message = report.read_text().split("\n", 1)
    assert float(seconds) < 30  # well before the 60 s process-group timeout
    assert message.startswith("training stopped in epoch 2, step 2: averaging gradients")
    assert "another process of the group stopped" in message and "intact" in message
    model = genlearn.load(ckpt)  # the checkpoint written after epoch 1 loads ...
    assert model.epochs_trained_ == 1
    model.set_params(epochs=2).fit(_rows(), resume=True)  # ... and resumes in one process
    assert [r["epoch"] for r in model.history_] == [1, 2]


def test_ranks_training_on_their_own_rows_agree_and_describe_all_the_data(two_ranks):
    (a, b), _ = two_ranks
    a, b = a["own"], b["own"]
    for family in ("vae", "rbm", "dbn", "gan"):
        assert a[family].keys() == b[family].keys() and a[family]
        for k in a[family]:
            np.testing.assert_array_equal(a[family][k], b[family][k], err_msg=f"{family} {k}")
    X = np.random.default_rng(5).normal(size=(37, 6)) * [1, 2, 3, 4, 5, 6] + 10
    for r in (a, b):  # the standardisation and the classes are those of all 37 rows
        np.testing.assert_allclose(r["center"], X.mean(0), rtol=1e-12)
        np.testing.assert_allclose(r["scale"], X.std(0), rtol=1e-12)
        assert r["classes"] == [0, 1, 2]
        assert len(r["vae history"]) == 3 and np.all(np.isfinite(r["vae history"]))
    assert a["vae history"] == b["vae history"]  # metrics averaged across the ranks
    assert a["batch_size"] == (8, [8, 8, 8])  # 4 rows a rank a step; the model says 8
    assert "trains on the same data on every rank" in a["sequence error"]  # clear, not a crash
