"""The VAE against closed forms, against itself (seeds, save/load), and against bad input."""

import json
import math

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import genlearn as gl
from genlearn.io import CheckpointError


def tiny(**kw):
    base = dict(latent_dim=4, hidden=(32,), epochs=3, batch_size=64, iw_samples=50, verbose=False,
                device="cpu")
    base.update(kw)
    return gl.VAE(**base)


# -- a linear-Gaussian VAE: its marginal likelihood is known in closed form ----------------------
def _exact_linear_gaussian(model, X):
    """log N(x | m + s * b, S (W W^T + diag(sigma^2)) S) of the model's linear decoder, with
    S = diag(s): the network models the standardised rows (x - m) / s."""
    lin = model.net_.dec[0]
    W = lin.weight.detach().double().numpy()
    b = lin.bias.detach().double().numpy()
    raw = model.net_.feature_log_var.detach().double()
    var = torch.exp(torch.logaddexp(raw, torch.full_like(raw, model.net_.log_min_var))).numpy()
    S = np.diag(model.scale_)
    cov = S @ (W @ W.T + np.diag(var)) @ S
    return stats.multivariate_normal(model.center_ + model.scale_ * b, cov).logpdf(X)


@pytest.fixture(scope="module")
def linear_gaussian():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(2, 5))
    X = rng.normal(size=(400, 2)) @ A + 0.3 * rng.normal(size=(400, 5)) + 1.0
    model = gl.VAE(latent_dim=2, hidden=(), likelihood="gaussian", gaussian_variance="feature",
                   epochs=3, batch_size=50, lr=1e-2, verbose=False, device="cpu", seed=1).fit(X)
    return model, X[:100]


def test_elbo_below_iwae_below_exact(linear_gaussian):
    model, X = linear_gaussian
    exact = _exact_linear_gaussian(model, X).mean()
    elbo = model.elbo(X, n_samples=200).mean()
    iwae = {k: model.log_prob(X, k=k, seed=0).mean() for k in (1, 10, 100, 2000)}
    assert elbo < iwae[10] < iwae[100] <= iwae[2000] + 1e-3
    assert iwae[2000] <= exact + 0.01
    assert exact - elbo > 0.01  # the bound is not already tight: the test can tell them apart


def test_iwae_converges_to_exact(linear_gaussian):
    model, X = linear_gaussian
    exact = _exact_linear_gaussian(model, X)
    gaps = [np.abs(model.log_prob(X, k=k, seed=3) - exact).mean() for k in (1, 30, 1000, 10000)]
    assert gaps[0] > gaps[1] > gaps[2] > gaps[3]
    assert gaps[-1] < 0.01


def test_elbo_k1_iwae_expectation_matches_elbo(linear_gaussian):
    """With k=1 the IWAE estimate is a single-sample ELBO: same expectation."""
    model, X = linear_gaussian
    a = np.mean([model.log_prob(X, k=1, seed=s).mean() for s in range(20)])
    b = model.elbo(X, n_samples=20, seed=5).mean()
    assert abs(a - b) < 0.05


def test_linear_gaussian_data_are_standardised(linear_gaussian):
    model, X = linear_gaussian
    assert np.all(np.abs(model.center_ - 1.0) < 0.5) and np.all(model.scale_ > 0.3)


# -- the Gaussian likelihood standardises its input (issue 10 defect 2) -----------------------
def _gauss(**kw):
    return tiny(**{"likelihood": "gaussian", "epochs": 4, "seed": 2, "iw_samples": 20, **kw})


def test_standardising_is_the_identity_on_standardised_data():
    Z = np.random.default_rng(0).normal(size=(300, 5)) @ np.diag([1, 2, 3, 1, 1])
    Z = (Z - Z.mean(0)) / Z.std(0)
    on, off = _gauss().fit(Z), _gauss(standardize=False).fit(Z)
    np.testing.assert_allclose(on.center_, 0, atol=1e-12)
    np.testing.assert_allclose(on.scale_, 1, atol=1e-12)
    np.testing.assert_allclose(on.log_prob(Z[:50]), off.log_prob(Z[:50]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(on.sample(20, seed=1), off.sample(20, seed=1), atol=1e-5)


def test_standardised_model_gives_the_density_of_the_data_in_its_own_units():
    Z = np.random.default_rng(1).normal(size=(300, 5))
    Z = (Z - Z.mean(0)) / Z.std(0)
    scale, shift = np.array([255.0, 0.01, 3.0, 1e4, 1.0]), np.array([-7.0, 2.0, 0.0, 5e5, 1.0])
    X = Z * scale + shift
    on_z, on_x = _gauss().fit(Z), _gauss().fit(X)
    # log p(x) = log p(z) - sum_j log scale_j (the Jacobian of x -> z)
    np.testing.assert_allclose(on_x.log_prob(X[:50]),
                               on_z.log_prob(Z[:50]) - np.log(scale).sum(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(on_x.elbo(X[:50]), on_z.elbo(Z[:50]) - np.log(scale).sum(),
                               rtol=1e-4, atol=1e-3)
    # samples and reconstructions come back in the data's units
    np.testing.assert_allclose((on_x.sample(30, seed=3) - shift) / scale,
                               on_z.sample(30, seed=3), atol=1e-4)
    np.testing.assert_allclose((on_x.reconstruct(X[:5]) - shift) / scale,
                               on_z.reconstruct(Z[:5]), atol=1e-4)
    # the training record is in the data's units too
    assert on_x.history_[-1]["elbo"] == pytest.approx(
        on_z.history_[-1]["elbo"] - np.log(scale).sum(), rel=1e-4)


def test_digits_times_255_train_to_a_finite_sane_loss():
    from sklearn.datasets import load_digits

    D = load_digits().data / 16.0
    model = _gauss(epochs=3).fit(D * 255.0)
    losses = [r["loss"] for r in model.history_]
    assert np.all(np.isfinite(losses)) and max(abs(v) for v in losses) < 1e3
    lp = model.log_prob(D[:20] * 255.0)
    assert np.all(np.isfinite(lp))
    # the same fit on [0, 1] pixels, shifted by the Jacobian of the x255 columns that vary
    small = _gauss(epochs=3).fit(D)
    varying = (D.std(0) > 0).sum()
    np.testing.assert_allclose(lp, small.log_prob(D[:20]) - varying * np.log(255.0),
                               rtol=1e-4, atol=1e-2)


# -- the contract ------------------------------------------------------------------------------
def test_fit_sample_log_prob_shapes(binary_digits):
    X, _ = binary_digits
    model = tiny().fit(X[:300])
    assert model.fit(X[:300]) is model
    assert model.sample(7, seed=0).shape == (7, 64)
    assert set(np.unique(model.sample(7, seed=0))) <= {0.0, 1.0}
    m = model.sample(5, seed=0, mean=True)
    assert m.min() >= 0 and m.max() <= 1 and len(np.unique(m)) > 2
    lp = model.log_prob(X[300:320])
    assert lp.shape == (20,) and np.all(lp < 0)
    assert model.score(X[300:320]) == pytest.approx(lp.mean())
    assert len(model.history_) == 3 and {"epoch", "loss", "elbo", "kl"} <= set(model.history_[0])
    assert "importance-weighted" in gl.VAE.log_prob.__doc__


def test_image_shaped_input_comes_back_shaped():
    rng = np.random.default_rng(0)
    X = (rng.random((50, 8, 8)) > 0.5).astype(float)
    model = tiny(epochs=1).fit(X)
    assert model.sample(3, seed=0).shape == (3, 8, 8)
    assert model.image_shape_ == (8, 8)
    assert model.reconstruct(X[:2]).shape == (2, 8, 8)


def test_training_improves_the_likelihood(binary_digits):
    X, _ = binary_digits
    short = tiny(epochs=1, seed=0).fit(X[:1000])
    longer = tiny(epochs=15, seed=0).fit(X[:1000])
    assert longer.score(X[1000:1200]) > short.score(X[1000:1200]) + 2.0


def test_seed_makes_fit_and_sample_repeatable(binary_digits):
    X, _ = binary_digits
    a = tiny(seed=3).fit(X[:200])
    b = tiny(seed=3).fit(X[:200])
    pairs = zip(a.net_.state_dict().items(), b.net_.state_dict().items(), strict=True)
    for (ka, va), (_, vb) in pairs:
        assert torch.equal(va, vb), ka
    np.testing.assert_array_equal(a.sample(10, seed=4), b.sample(10, seed=4))
    np.testing.assert_array_equal(a.log_prob(X[:5], seed=1), b.log_prob(X[:5], seed=1))
    c = tiny(seed=4).fit(X[:200])
    assert not torch.equal(a.net_.enc_head.weight, c.net_.enc_head.weight)
    assert not np.array_equal(a.sample(10, seed=4), a.sample(10, seed=5))


def test_fit_leaves_global_torch_rng_alone(binary_digits):
    X, _ = binary_digits
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny(epochs=1).fit(X[:50])
    assert torch.equal(torch.rand(3), expected)


def test_save_load_identical(tmp_path, binary_digits):
    X, _ = binary_digits
    model = tiny(seed=2).fit(X[:200])
    model.save(tmp_path / "vae")
    loaded = gl.load(tmp_path / "vae")
    assert loaded.get_params() == model.get_params()
    pairs = zip(model.net_.state_dict().items(), loaded.net_.state_dict().items(), strict=True)
    for (k, va), (_, vb) in pairs:
        assert torch.equal(va, vb), k
    np.testing.assert_array_equal(model.log_prob(X[200:230], seed=7),
                                  loaded.log_prob(X[200:230], seed=7))
    np.testing.assert_array_equal(model.sample(5, seed=1), loaded.sample(5, seed=1))
    assert loaded.history_ == model.history_


def test_resume_continues_to_more_epochs(tmp_path, binary_digits):
    X, _ = binary_digits
    model = tiny(epochs=2).fit(X[:200])
    model.save(tmp_path / "vae")
    loaded = gl.load(tmp_path / "vae").set_params(epochs=5)
    step_before = loaded.optimizer_.state_dict()["state"][0]["step"].item()
    loaded.fit(X[:200], resume=True)
    assert loaded.epochs_trained_ == 5 and [r["epoch"] for r in loaded.history_] == [1, 2, 3, 4, 5]
    assert loaded.optimizer_.state_dict()["state"][0]["step"].item() == step_before + 3 * 4


def test_clone_and_grid_search(binary_digits):
    X, _ = binary_digits
    model = tiny(latent_dim=3)
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not hasattr(twin, "net_")
    search = GridSearchCV(tiny(epochs=2), {"latent_dim": [2, 4]}, cv=2).fit(X[:200])
    assert search.best_params_["latent_dim"] in (2, 4)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_conditional_vae(binary_digits):
    X, y = binary_digits
    model = tiny(epochs=8).fit(X[:600], y[:600])
    assert model.classes_.tolist() == list(range(10))
    s = model.sample(6, y=3, seed=0)
    assert s.shape == (6, 64)
    lp_right = model.log_prob(X[600:700], y[600:700])
    lp_wrong = model.log_prob(X[600:700], (y[600:700] + 5) % 10)
    assert lp_right.mean() > lp_wrong.mean()  # the label carries information
    with pytest.raises(ValueError, match="conditional"):
        model.sample(3)
    with pytest.raises(ValueError, match=r"not seen in training"):
        model.sample(2, y=[3, 11])


def test_gaussian_likelihood_on_real_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) * [1.0, 3.0, 0.1] + 2
    model = tiny(likelihood="gaussian", epochs=60, lr=1e-2).fit(X)
    draws = model.sample(2000, seed=0)
    assert np.all(np.abs(draws.mean(0) - X.mean(0)) < 0.5 * X.std(0))
    assert np.isfinite(model.log_prob(X[:10])).all()


def test_conv_architecture_on_images():
    rng = np.random.default_rng(0)
    X = (rng.random((64, 16, 16)) > 0.7).astype(float)
    model = tiny(architecture="conv", conv_channels=(4, 8), hidden=(16,), epochs=2).fit(X)
    assert model.sample(2, seed=0).shape == (2, 16, 16)
    assert np.isfinite(model.log_prob(X[:4])).all()
    with pytest.raises(ValueError, match="divisible by 4"):
        tiny(architecture="conv").fit(np.zeros((4, 6, 6)))


def test_encode_decode_interpolate(binary_digits):
    X, _ = binary_digits
    model = tiny(epochs=5).fit(X[:300])
    z, lv = model.encode(X[:4], return_log_var=True)
    assert z.shape == (4, 4) and lv.shape == (4, 4)
    assert model.decode(z).shape == (4, 64)
    path = model.interpolate(X[0], X[1], steps=6)
    assert path.shape == (6, 64)
    np.testing.assert_allclose(path[0], model.reconstruct(X[:1])[0], atol=1e-6)
    np.testing.assert_allclose(path[-1], model.reconstruct(X[1:2])[0], atol=1e-6)


def test_early_stopping_restores_best(binary_digits):
    X, _ = binary_digits
    model = tiny(epochs=200, early_stopping=True, patience=2, lr=1e-2, hidden=(256,),
                 latent_dim=16).fit(X[:300])
    vals = [r["val_elbo"] for r in model.history_]
    assert model.stop_reason_ == "early_stopping" and len(vals) < 200
    best = int(np.argmax(vals))
    assert best == len(vals) - 1 - 2  # stopped `patience` epochs after the best
    assert model.epochs_trained_ == len(vals)


def test_nan_loss_stops_with_epoch_and_keeps_last_good(binary_digits, monkeypatch):
    X, _ = binary_digits
    model = tiny(epochs=6)
    seen = {}
    real_loss = gl.VAE._loss

    def broken(self, x, c, w):
        loss, parts = real_loss(self, x, c, w)
        if len(self.history_) == 3:
            return loss * float("nan"), {**parts, "elbo": float("nan")}
        return loss, parts

    monkeypatch.setattr(gl.VAE, "_loss", broken)

    def keep(epoch, record):
        seen[epoch] = {k: v.clone() for k, v in model.net_.state_dict().items()}

    with pytest.raises(gl.NonFiniteLossError, match="epoch 4, step 1.*epoch 3"):
        model.fit(X[:200], callback=keep)
    assert model.epochs_trained_ == 3 and len(model.history_) == 3
    for k, v in model.net_.state_dict().items():
        assert torch.equal(v, seen[3][k])
    assert np.isfinite(model.log_prob(X[:3])).all()


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("field,value,match", [
    ("latent_dim", 0, "latent_dim"),
    ("hidden", 5, "hidden"),
    ("likelihood", "poisson", "likelihood"),
    ("beta", -1.0, "beta"),
    ("epochs", 0, "epochs"),
    ("lr", 0.0, "lr"),
    ("architecture", "rnn", "architecture"),
    ("device", 3, "device"),
    ("image_shape", (8,), "image_shape"),
    ("seed", -1, "seed"),
])
def test_bad_hyperparameters_name_the_field(field, value, match):
    # scikit-learn's convention: the constructor stores, fit validates
    model = gl.VAE(**{field: value})
    assert getattr(model, field) == value
    with pytest.raises(ValueError, match=match):
        model.fit(np.zeros((4, 64)))
    with pytest.raises(ValueError, match=match):
        gl.VAE().set_params(**{field: value}).fit(np.zeros((4, 64)))


def test_bad_data(binary_digits):
    X, _ = binary_digits
    model = tiny(epochs=1)
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.fit(np.where(np.eye(64)[:10] == 1, np.nan, 0.0))
    with pytest.raises(ValueError, match="empty"):
        model.fit(np.zeros((0, 64)))
    with pytest.raises(ValueError, match="numeric"):
        model.fit(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        model.fit(X[:20] * 2)
    with pytest.raises(ValueError, match="not fitted"):
        model.sample(2)
    model.fit(X[:50])
    with pytest.raises(ValueError, match="63 features.*fitted with 64"):
        model.log_prob(X[:5, :63])
    with pytest.raises(ValueError, match="inf"):
        model.log_prob(np.full((2, 64), np.inf))
    for n in (0, -3, 2.5):
        with pytest.raises(ValueError, match="positive integer"):
            model.sample(n)
    with pytest.raises(ValueError, match="fitted without labels"):
        model.sample(2, y=1)


def test_cuda_request_without_gpu_is_a_clear_error(binary_digits):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        tiny(device="cuda").fit(binary_digits[0][:10])


def test_tampered_checkpoint_is_refused(tmp_path, binary_digits):
    X, _ = binary_digits
    path = tiny(epochs=1).fit(X[:50]).save(tmp_path / "vae")
    weights = tmp_path / "vae" / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        gl.load(path)


def test_mismatched_weights_are_refused(tmp_path, binary_digits):
    X, _ = binary_digits
    tiny(epochs=1, latent_dim=4).fit(X[:50]).save(tmp_path / "a")
    tiny(epochs=1, latent_dim=5).fit(X[:50]).save(tmp_path / "b")
    cfg_a = json.loads((tmp_path / "a" / "config.json").read_text())
    cfg_b = json.loads((tmp_path / "b" / "config.json").read_text())
    cfg_a["weights_sha256"] = cfg_b["weights_sha256"]
    (tmp_path / "a" / "config.json").write_text(json.dumps(cfg_a))
    (tmp_path / "a" / "weights.safetensors").write_bytes(
        (tmp_path / "b" / "weights.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="do not fit the model"):
        gl.load(tmp_path / "a")


def test_nonbinary_data_with_bernoulli_warns(caplog):
    X = np.random.default_rng(0).random((30, 4))
    with caplog.at_level("WARNING"):
        tiny(epochs=1).fit(X)
    assert "not a normalised log-likelihood" in caplog.text
    assert math.isfinite(tiny(epochs=1).fit(X).score(X))


# -- learned priors ----------------------------------------------------------------------------
def test_mog_prior_density_matches_scipy_mixture(binary_digits):
    X, _ = binary_digits
    model = tiny(prior="mog", prior_components=3, latent_dim=2, epochs=2).fit(X[:200])
    log_w, means, log_vars = (t.detach().double().numpy() for t in model.net_.prior_components())
    z = np.random.default_rng(0).normal(size=(7, 2))
    expected = np.log(sum(np.exp(log_w[k]) * stats.multivariate_normal(
        means[k], np.diag(np.exp(log_vars[k]))).pdf(z) for k in range(3)))
    got = model.net_.log_prior(torch.tensor(z, dtype=torch.float32)).detach().double().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_mog_prior_samples_follow_the_mixture(binary_digits):
    X, _ = binary_digits
    model = tiny(prior="mog", prior_components=2, latent_dim=1, epochs=1).fit(X[:100])
    with torch.no_grad():
        model.net_.prior_means[:] = torch.tensor([[-5.0], [5.0]])
        model.net_.prior_log_vars[:] = 0.0
        model.net_.prior_logits[:] = torch.log(torch.tensor([0.2, 0.8]))
        z = model.net_.sample_prior(20000, torch.Generator().manual_seed(0), "cpu").numpy()
    assert abs((z > 0).mean() - 0.8) < 0.02
    assert abs(z[z > 0].std() - 1.0) < 0.05


def test_vamp_prior_is_the_mixture_of_posteriors_at_pseudo_inputs(binary_digits):
    X, _ = binary_digits
    model = tiny(prior="vamp", prior_components=4, epochs=2).fit(X[:200])
    u = torch.clamp(model.net_.pseudo_inputs.detach(), 0, 1).double().numpy()
    mean, log_var = model.encode(u, return_log_var=True)
    z = np.random.default_rng(1).normal(size=(5, 4))
    expected = np.log(np.mean([stats.multivariate_normal(mean[k], np.diag(np.exp(log_var[k])))
                               .pdf(z) for k in range(4)], axis=0))
    got = model.net_.log_prior(torch.tensor(z, dtype=torch.float32)).detach().double().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4)


@pytest.mark.parametrize("prior", ["mog", "vamp"])
def test_learned_prior_bounds_are_ordered(binary_digits, prior):
    X, _ = binary_digits
    model = tiny(prior=prior, epochs=5, objective="iwae", train_samples=3).fit(X[:400])
    elbo = model.elbo(X[400:500], n_samples=50).mean()
    lp = model.log_prob(X[400:500], k=500).mean()
    assert elbo < lp < 0


def test_cosine_schedule_anneals_to_zero_and_dropout_is_training_only(binary_digits):
    X, _ = binary_digits
    model = tiny(lr_schedule="cosine", epochs=3, dropout=0.5).fit(X[:128])
    n_steps = 3 * 2  # 3 epochs of 2 batches; the last step runs at fraction 5/6 of the way
    expected = 0.5 * model.lr * (1 + math.cos(math.pi * (n_steps - 1) / n_steps))
    assert model.optimizer_.param_groups[0]["lr"] == pytest.approx(expected)
    assert not model.net_.training
    np.testing.assert_array_equal(model.log_prob(X[:4], seed=0), model.log_prob(X[:4], seed=0))


def test_kl_warmup_and_beta_schedule():
    model = gl.VAE(beta=2.0, warmup_epochs=4)
    assert [model._kl_weight(e) for e in range(6)] == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert gl.VAE(beta=0.5)._kl_weight(0) == 0.5


def test_beta_trades_kl_for_reconstruction(binary_digits):
    X, _ = binary_digits
    low = tiny(beta=0.1, epochs=8, seed=0).fit(X[:600])
    high = tiny(beta=4.0, epochs=8, seed=0).fit(X[:600])
    assert low.history_[-1]["kl"] > 2 * high.history_[-1]["kl"]
