"""The DBN's variational bound against brute-force enumeration, sampling, checkpoints."""

import itertools

import numpy as np
import pytest

import genlearn as gl


@pytest.fixture(scope="module")
def tiny_dbn():
    rng = np.random.default_rng(0)
    X = (rng.random((40, 5)) < 0.5).astype(float)
    dbn = gl.DBN(layers=(4, 3), epochs=1, batch_size=10, verbose=False, device="cpu").fit(X)
    for rbm, (D, H) in zip(dbn.rbms_, [(5, 4), (4, 3)], strict=True):
        rbm.set_weights(rng.normal(size=(D, H)), 0.5 * rng.normal(size=D),
                        0.5 * rng.normal(size=H))
    return dbn


def enumerate_bits(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=float)


def exact_terms(dbn, v):
    """log p(v) and the exact variational bound, by summing over every h1."""
    bottom, top = dbn.rbms_
    energy = bottom.energy()
    W, b, c = energy.W.numpy(), energy.b.numpy(), energy.c.numpy()
    h1 = enumerate_bits(4)
    log_top = top.log_prob(h1)  # exact marginal of the top RBM's visible layer
    act = b + h1 @ W.T  # (16, 5)
    log_p_v_given_h = (v[:, None, :] * act - np.logaddexp(0, act)).sum(-1)  # (n, 16)
    log_px = np.logaddexp.reduce(log_p_v_given_h + log_top, axis=1)
    logits = c + v @ W  # (n, 4)
    log_q = (h1[None] * logits[:, None] - np.logaddexp(0, logits)[:, None]).sum(-1)  # (n, 16)
    bound = (np.exp(log_q) * (log_p_v_given_h + log_top - log_q)).sum(1)
    return log_px, bound


def test_lower_bound_matches_enumeration_and_stays_below_log_likelihood(tiny_dbn):
    v = enumerate_bits(5)
    log_px, bound = exact_terms(tiny_dbn, v)
    assert np.exp(log_px).sum() == pytest.approx(1.0)  # the generative model is normalised
    estimate = tiny_dbn.lower_bound(v, n_samples=4000, seed=0)
    np.testing.assert_allclose(estimate, bound, atol=0.1)
    assert estimate.mean() == pytest.approx(bound.mean(), abs=0.02)
    assert np.all(bound <= log_px + 1e-9)
    assert (log_px - bound).mean() > 0.05  # the bound is not tight here: the test can tell


def test_one_layer_dbn_bound_is_the_rbm_log_likelihood(binary_digits):
    X = binary_digits[0][:200]
    dbn = gl.DBN(layers=(6,), epochs=2, verbose=False, device="cpu").fit(X)
    np.testing.assert_allclose(dbn.lower_bound(X, n_samples=1), dbn.rbms_[0].log_prob(X))


def test_sampling_is_a_top_down_pass(tiny_dbn):
    draws = tiny_dbn.sample(3000, burn_in=50, gibbs_steps=3, seed=0)
    assert draws.shape == (3000, 5) and set(np.unique(draws)) <= {0.0, 1.0}
    log_px, _ = exact_terms(tiny_dbn, enumerate_bits(5))
    codes = draws.astype(int) @ (2 ** np.arange(4, -1, -1))
    freq = np.bincount(codes, minlength=32) / len(codes)
    assert 0.5 * np.abs(freq - np.exp(log_px)).sum() < 0.06
    means = tiny_dbn.sample(4, seed=0, mean=True)
    assert np.all((means > 0) & (means < 1))


def test_log_prob_is_refused_and_evaluate_names_the_bound(tiny_dbn):
    with pytest.raises(TypeError, match="lower_bound"):
        tiny_dbn.log_prob(enumerate_bits(5))
    out = tiny_dbn.evaluate(enumerate_bits(5))
    assert "lower_bound" in out and "log_likelihood" not in out
    assert out["estimator"].startswith("variational lower bound")


def test_save_load_round_trip(tmp_path, binary_digits):
    X = binary_digits[0][:200]
    dbn = gl.DBN(layers=(8, 4), epochs=2, verbose=False, device="cpu", seed=1).fit(X)
    assert [h["layer"] for h in dbn.history_] == [0, 0, 1, 1]
    dbn.save(tmp_path / "dbn")
    loaded = gl.load(tmp_path / "dbn")
    np.testing.assert_array_equal(loaded.lower_bound(X[:20]), dbn.lower_bound(X[:20]))
    np.testing.assert_array_equal(loaded.sample(5, seed=2), dbn.sample(5, seed=2))
    with pytest.raises(ValueError, match="layers"):  # checked at fit, not in __init__
        gl.DBN(layers=()).fit(X)


def test_cli_trains_and_evaluates_a_dbn(tmp_path, capsys):
    from genlearn.cli import main

    out = tmp_path / "dbn"
    # --checkpoint-every 1 saves from the callback while the layers train (it used to raise
    # NotFittedError at the first save)
    assert main(["train", "dbn", "--data", "digits", "--binarize", "--epochs", "2",
                 "--layers", "8,4", "--ais-betas", "50", "--checkpoint-every", "1",
                 "--out", str(out), "-q"]) == 0
    assert main(["evaluate", str(out), "--json"]) == 0
    assert '"lower_bound"' in capsys.readouterr().out
    assert gl.load(out).layers == (8, 4)


# -- saving while it trains, Ctrl-C, scikit-learn (issue 10) -----------------------------------


def test_a_callback_can_save_the_dbn_while_it_trains(tmp_path, binary_digits):
    X = binary_digits[0][:200]
    dbn = gl.DBN(layers=(8, 4), epochs=2, verbose=False, device="cpu", seed=1)
    saved = []

    def callback(epoch, record):  # what `genlearn train --checkpoint-every 1` does
        path = tmp_path / f"layer{record['layer']}_epoch{epoch}"
        dbn.save(path)
        saved.append(path)

    dbn.fit(X, callback=callback)
    assert len(saved) == 4
    first = gl.load(saved[0])  # after one epoch of the bottom layer: a one-layer DBN
    assert first.n_layers_trained_ == 1 and first.epochs_trained_ == 1
    np.testing.assert_allclose(first.lower_bound(X[:5], n_samples=1),
                               first.rbms_[0].log_prob(X[:5]))
    last = gl.load(saved[-1])
    assert last.n_layers_trained_ == 2
    np.testing.assert_array_equal(last.lower_bound(X[:20]), dbn.lower_bound(X[:20]))


def test_ctrl_c_leaves_a_loadable_dbn_that_resume_completes(tmp_path, binary_digits):
    X = binary_digits[0][:200]
    dbn = gl.DBN(layers=(8, 4), epochs=3, verbose=False, device="cpu", seed=1)

    def interrupt(epoch, record):
        if record["layer"] == 1 and epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dbn.fit(X, callback=interrupt)
    assert dbn.n_layers_trained_ == 2 and dbn.rbms_[1].epochs_trained_ == 1
    assert [h["layer"] for h in dbn.history_] == [0, 0, 0, 1]
    dbn.save(tmp_path / "dbn")
    loaded = gl.load(tmp_path / "dbn")
    assert loaded.sample(3, burn_in=5, seed=0).shape == (3, 64)
    loaded.fit(X, resume=True)  # completes the top layer
    assert loaded.rbms_[1].epochs_trained_ == 3 and loaded.rbms_[0].epochs_trained_ == 3
    assert [h["layer"] for h in loaded.history_] == [0, 0, 0, 1, 1, 1]
    assert np.all(np.isfinite(loaded.lower_bound(X[:10])))


def test_ctrl_c_in_the_first_epoch_leaves_no_model_to_save(tmp_path, binary_digits,
                                                            monkeypatch):
    calls = []
    train_step = gl.RBM._train_step

    def interrupted_step(self, data, idx, epoch):  # Ctrl-C at the third mini-batch
        calls.append(epoch)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return train_step(self, data, idx, epoch)

    monkeypatch.setattr(gl.RBM, "_train_step", interrupted_step)
    dbn = gl.DBN(layers=(4,), epochs=2, verbose=False, device="cpu")
    with pytest.raises(KeyboardInterrupt):
        dbn.fit(binary_digits[0][:100])
    assert calls == [0, 0, 0] and not dbn.is_fitted_  # no finished epoch: nothing to keep
    with pytest.raises(gl.NotFittedError):
        dbn.save(tmp_path / "dbn")


def test_fit_ignores_y_and_transform_is_the_up_pass(binary_digits):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    X, y = binary_digits
    pipe = Pipeline([("dbn", gl.DBN(layers=(32, 16), epochs=20, verbose=False,
                                    device="cpu")),
                     ("clf", LogisticRegression(max_iter=500))])
    accuracy = pipe.fit(X[:1200], y[:1200]).score(X[1200:], y[1200:])
    assert accuracy > 0.3  # ten classes: chance is 0.1 (0.49 with these settings)
    dbn = pipe.named_steps["dbn"]
    up = dbn.rbms_[1].transform(dbn.rbms_[0].transform(X[:5]))
    np.testing.assert_array_equal(dbn.transform(X[:5]), up)


def test_a_huge_learning_rate_stops_the_dbn(binary_digits):
    from genlearn.training import NonFiniteLossError

    with pytest.raises(NonFiniteLossError):
        gl.DBN(layers=(8, 4), lr=1e4, epochs=3, verbose=False, device="cpu").fit(
            binary_digits[0][:200])


def test_ctrl_c_in_genlearn_train_dbn_saves_the_layers_trained_so_far(tmp_path, monkeypatch,
                                                                      capsys):
    from genlearn.cli import main

    train_step = gl.RBM._train_step

    def step(self, data, idx, epoch):  # Ctrl-C in the second epoch of the top layer
        if self.n_hidden == 4 and epoch == 1:
            raise KeyboardInterrupt
        return train_step(self, data, idx, epoch)

    monkeypatch.setattr(gl.RBM, "_train_step", step)
    out = tmp_path / "dbn"
    code = main(["train", "dbn", "--data", "digits", "--binarize", "--epochs", "2",
                 "--layers", "8,4", "--ais-betas", "50", "--out", str(out), "-q"])
    assert code == 130 and "saved the last finished epoch" in capsys.readouterr().err
    loaded = gl.load(out)
    assert loaded.n_layers_trained_ == 2
    assert [rbm.epochs_trained_ for rbm in loaded.rbms_] == [2, 1]
