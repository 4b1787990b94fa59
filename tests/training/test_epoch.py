"""EpochModel: exact resume (2 + save + load + 2 epochs == 4 epochs, bit for bit on the CPU),
the data description one way for every model, Ctrl-C in the first epoch, the thread policy."""

import numpy as np
import pytest
import torch

import genlearn as gl
from genlearn import _threads
from genlearn._utils import resolve_image_shape


def _vae(**kw):
    base = dict(latent_dim=2, hidden=(16,), epochs=4, batch_size=32, iw_samples=5,
                device="cpu", verbose=False, seed=3)
    return gl.VAE(**{**base, **kw})


def _gan(**kw):
    base = dict(generator="mlp", latent_dim=2, hidden_g=(16,), hidden_d=(16,), epochs=4,
                batch_size=32, device="cpu", verbose=False, seed=3)
    return gl.GAN(**{**base, **kw})


def _weights(model):
    meta, tensors = model._get_state()
    return {k: v.clone() for k, v in tensors.items()}, meta["history_"]


@pytest.mark.parametrize("make,data", [
    # (not with early_stopping: a run that ends keeps its best epoch's weights, so a resumed
    # run continues from those)
    (_vae, "binary"), (lambda: _vae(warmup_epochs=3, lr_schedule="cosine", dropout=0.2,
                                    prior="vamp", prior_components=3), "binary"),
    (_gan, "points"), (lambda: _gan(lr_decay=0.5, latent_categories=3, pack=2), "points"),
])
def test_resume_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path, make, data):
    rng = np.random.default_rng(0)
    if data == "binary":
        X = (rng.random((100, 8)) < 0.3).astype(float)
        y = rng.integers(0, 2, 100)
    else:
        X = rng.normal(size=(200, 2))
        y = rng.integers(0, 2, 200)
    torch.manual_seed(123)
    caller_state = torch.get_rng_state()

    def save_at_2(epoch, record):  # the periodic checkpoint the command line writes
        if epoch == 2:
            whole.save(tmp_path / "m")

    whole = make()
    whole.fit(X, y, callback=save_at_2)
    # the caller's global RNG is left alone
    assert torch.equal(torch.get_rng_state(), caller_state)
    torch.rand(7)  # whatever the caller draws in between does not matter
    resumed = gl.load(tmp_path / "m")
    assert resumed.epochs_trained_ == 2
    resumed.fit(X, y, resume=True)
    w_whole, h_whole = _weights(whole)
    w_resumed, h_resumed = _weights(resumed)
    assert w_whole.keys() == w_resumed.keys()
    for k in w_whole:
        assert torch.equal(w_whole[k], w_resumed[k]), k
    drop_time = [{k: v for k, v in r.items() if k != "time"} for r in h_whole]
    assert drop_time == [{k: v for k, v in r.items() if k != "time"} for r in h_resumed]
    np.testing.assert_array_equal(whole.sample(20, y=1, seed=0), resumed.sample(20, y=1, seed=0))


def test_resume_in_memory_equals_an_uninterrupted_run():
    # constant learning rate: a shorter first run plans no different schedule
    X = (np.random.default_rng(1).random((90, 8)) < 0.5).astype(float)
    whole = _vae().fit(X)
    part = _vae().set_params(epochs=1).fit(X)
    part.set_params(epochs=3).fit(X, resume=True).set_params(epochs=4).fit(X, resume=True)
    for k, v in whole.net_.state_dict().items():
        assert torch.equal(v, part.net_.state_dict()[k]), k


@pytest.mark.parametrize("shape,image_shape,expected", [
    ((1, 8, 8), None, (8, 8)), ((8, 8), None, (8, 8)), ((64,), None, (8, 8)),
    ((2,), None, None), ((12,), (3, 4), (3, 4)), ((3, 8, 8), None, None), ((9,), None, None),
])
def test_image_shape_is_resolved_one_way(shape, image_shape, expected):
    assert resolve_image_shape(shape, image_shape) == expected


def test_every_rows_model_describes_n_1_8_8_data_the_same_way():
    X = (np.random.default_rng(0).random((40, 1, 8, 8)) < 0.5).astype(float)
    for model in (_vae(epochs=1), _gan(epochs=1)):
        model.fit(X)
        assert model.image_shape_ == (8, 8) and model.data_shape_ == (1, 8, 8)
        assert model.n_features_in_ == 64
        assert model.sample(3, seed=0).shape == (3, 1, 8, 8)


def test_ctrl_c_in_the_first_epoch_leaves_no_fitted_model(monkeypatch):
    X = np.random.default_rng(0).normal(size=(200, 2))
    model = _gan()

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(model, "_d_step", interrupt)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X)
    assert not model.is_fitted_ and model.history_ == []
    with pytest.raises(gl.NotFittedError):
        model.save("never-written")
    # after a finished epoch, Ctrl-C keeps the last finished epoch
    model = _gan(epochs=3)
    calls = {"n": 0}
    real = model._d_step

    def late_interrupt(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 8:  # 6 steps per epoch (200 // 32)
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "_d_step", late_interrupt)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X)
    assert model.is_fitted_ and model.epochs_trained_ == 1 and len(model.history_) == 1


def test_resume_with_no_epochs_left_trains_nothing(caplog):
    X = np.random.default_rng(0).normal(size=(64, 2))
    model = _gan(epochs=2).fit(X)
    before = {k: v.clone() for k, v in model.g_net_.state_dict().items()}
    with caplog.at_level("WARNING"):
        model.fit(X, resume=True)
    assert "nothing to do" in caplog.text
    for k, v in model.g_net_.state_dict().items():
        assert torch.equal(v, before[k])


def test_thread_policy_picks_by_work_restores_and_obeys_the_override():
    before = torch.get_num_threads()
    assert _threads.choose_threads(1e5) == 1
    assert _threads.choose_threads(1e12) is None
    with _threads.thread_policy(None, work=1e5):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with _threads.thread_policy(3, work=1e5):
        assert torch.get_num_threads() == 3
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        _vae(threads=0).fit(np.zeros((4, 8)))
    seen = []
    X = (np.random.default_rng(0).random((40, 8)) < 0.5).astype(float)
    _vae(epochs=1, threads=2).fit(X, callback=lambda e, r: seen.append(torch.get_num_threads()))
    _vae(epochs=1).fit(X, callback=lambda e, r: seen.append(torch.get_num_threads()))
    assert seen == [2, 1] and torch.get_num_threads() == before
