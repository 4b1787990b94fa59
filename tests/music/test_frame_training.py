"""The frame models (frame RNN, RNN-RBM, RNN-NADE) train through the shared epoch base:
exact resume, callbacks, the time limit, earlier checkpoints, and 2 gloo processes = 1."""

import json

import numpy as np
import pytest
import torch

import genlearn as gl
from genlearn import distributed

D = 5


def _pieces(n=8, T=6, ragged=True, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random((T + (i % 3 if ragged else 0), D)) < 0.4).astype(np.uint8)
            for i in range(n)]


def _params(model) -> dict:
    return {k: v.detach().numpy().copy() for k, v in model.net_.state_dict().items()}


def _model(cls, epochs, **kw):
    return cls(units=6, hidden=3, epochs=epochs, batch_size=3, lr=0.01, dropout=0.2, seed=4,
               **kw)


@pytest.mark.parametrize("cls", [gl.models.FrameRNN, gl.models.RNNRBM, gl.models.RNNNADE])
def test_two_plus_two_epochs_through_a_checkpoint_equal_four(cls, tmp_path):
    data, valid = _pieces(), _pieces(n=3, seed=1)
    four = _model(cls, 4).fit(data, valid=valid)
    two = _model(cls, 2).fit(data, valid=valid)
    two.save(tmp_path / "two")
    back = gl.load(tmp_path / "two").set_params(epochs=4).fit(data, valid=valid, resume=True)
    assert back.epochs_trained_ == 4
    assert [r["train_nll"] for r in back.history_] == [r["train_nll"] for r in four.history_]
    ref = _params(four)
    for k, v in _params(back).items():
        np.testing.assert_array_equal(v, ref[k], err_msg=k)


def test_callback_sees_every_epoch_and_the_time_limit_keeps_the_best_weights():
    data, valid = _pieces(), _pieces(n=3, seed=1)
    seen = []
    m = _model(gl.models.FrameRNN, 5).fit(data, valid=valid,
                                          callback=lambda e, r: seen.append((e, r["valid_ll"])))
    assert [e for e, _ in seen] == [1, 2, 3, 4, 5] and m.stop_reason_ == "completed"
    # max_time so small that the first epoch ends the run: the weights of epoch 1 are kept
    t = _model(gl.models.FrameRNN, 5, max_time=1e-9).fit(data, valid=valid)
    assert t.stop_reason_ == "time_limit" and t.epochs_trained_ == 1 and len(t.history_) == 1
    assert t.nll_per_step(valid) == pytest.approx(-t.history_[0]["valid_ll"], rel=1e-6)


def test_a_checkpoint_of_the_earlier_format_still_loads(tmp_path):
    from safetensors.torch import load_file, save_file

    from genlearn.io import _sha256

    m = _model(gl.models.RNNNADE, 1).fit(_pieces())
    m.save(tmp_path / "run")
    # the earlier FrameRNN wrote its fitted attributes at the top of "state" and only net.*
    w = tmp_path / "run" / "weights.safetensors"
    save_file({k: v for k, v in load_file(str(w)).items() if k.startswith("net.")}, str(w))
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    data = {k: v for k, v in cfg["state"]["data"].items() if k != "mean_length_"}
    cfg["state"] = {**data, "epochs_trained_": 1, "history_": cfg["state"]["history_"],
                    "stop_reason_": "completed"}
    cfg["weights_sha256"] = _sha256(w)
    (tmp_path / "run" / "config.json").write_text(json.dumps(cfg))
    old = gl.load(tmp_path / "run")
    np.testing.assert_allclose(old.log_prob(_pieces()), m.log_prob(_pieces()), rtol=1e-6)
    old.set_params(epochs=2).fit(_pieces(), resume=True)  # a fresh optimizer, one more epoch
    assert old.epochs_trained_ == 2 and old.mean_length_ == pytest.approx(m.mean_length_)


def _on_rank(rank):
    # equal-length and ragged pieces, an uneven last batch (10 pieces, batch 4: 2 per rank,
    # then 1 + 1); the loss scale makes shards add up to the batch for any lengths
    data = _pieces(n=10, ragged=True)
    m = gl.models.RNNNADE(units=6, hidden=3, epochs=3, batch_size=4, lr=0.01, seed=2,
                          threads=1).fit(data, valid=_pieces(n=2, seed=1))
    return {"params": _params(m), "loss": [r["train_nll"] for r in m.history_],
            "valid": [r["valid_ll"] for r in m.history_]}


@pytest.mark.slow
def test_two_gloo_processes_train_the_model_one_process_trains():
    a, b = distributed.spawn_for_test(_on_rank, 2, timeout_s=120)
    with torch.random.fork_rng():
        one = gl.models.RNNNADE(units=6, hidden=3, epochs=3, batch_size=4, lr=0.01, seed=2,
                                threads=1).fit(_pieces(n=10), valid=_pieces(n=2, seed=1))
    assert a["loss"] == b["loss"]
    for k in a["params"]:
        np.testing.assert_array_equal(a["params"][k], b["params"][k], err_msg=k)
    np.testing.assert_allclose(a["loss"], [r["train_nll"] for r in one.history_], rtol=1e-5)
    np.testing.assert_allclose(a["valid"], [r["valid_ll"] for r in one.history_], rtol=1e-5)
    ref = _params(one)
    for k, v in a["params"].items():
        np.testing.assert_allclose(v, ref[k], rtol=1e-4, atol=1e-5, err_msg=k)
