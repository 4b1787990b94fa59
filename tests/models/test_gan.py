"""The GAN: its penalty and normalisation against direct computations, a short run that must
cover both modes of a 1-D mixture, checkpoints, and bad input."""

import json

import numpy as np
import pytest
import torch
from sklearn.base import clone

import genlearn as gl
from genlearn.models import gan as gan_module
from genlearn.models.gan import gradient_penalty
from genlearn.models.gan_nets import Discriminator
from genlearn.training import NonFiniteLossError


@pytest.fixture(autouse=True)
def one_thread():
    """These networks are tiny: one thread is fastest, and far faster on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def two_modes(n=2000, seed=0):
    """A 1-D mixture: half the rows at -2, half at +2, std 0.1; labels say which."""
    rng = np.random.default_rng(seed)
    y = rng.integers(2, size=n)
    X = (np.where(y == 1, 2.0, -2.0) + 0.1 * rng.standard_normal(n))[:, None]
    return X, y


def tiny(**kw):
    # the "table" recipe's values pinned, so these 1-D runs do not get the low-dimensional one
    base = dict(latent_dim=4, hidden_g=(32, 32), hidden_d=(32, 32), epochs=2, batch_size=64,
                lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), pack=1, latent_categories=0,
                lr_decay=0.0, fourier_scale=10.0, verbose=False, device="cpu")
    base.update(kw)
    return gl.GAN(**base)


# -- the gradient penalty against finite differences ----------------------------------------
@pytest.mark.parametrize("pack", [1, 2])
def test_gradient_penalty_matches_finite_differences(pack):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3 * pack, 5), torch.nn.Tanh(),
                              torch.nn.Linear(5, 1)).double()

    def critic(x):  # (B, 3) -> (B / pack,): the group's rows side by side
        return net(x.reshape(x.shape[0] // pack, -1)).squeeze(1)

    B = 4 * pack
    real, fake = torch.randn(B, 3, dtype=torch.float64), torch.randn(B, 3, dtype=torch.float64)
    eps = torch.rand(B // pack, 1, dtype=torch.float64)
    got = gradient_penalty(critic, real, fake, eps, pack)

    w = eps.repeat_interleave(pack, 0)
    x_hat = (w * real + (1 - w) * fake).numpy()
    h, expected = 1e-6, []
    for g in range(B // pack):
        rows = slice(g * pack, (g + 1) * pack)
        grad = np.zeros((pack, 3))
        for i in range(pack):
            for j in range(3):
                up, down = x_hat.copy(), x_hat.copy()
                up[rows][i, j] += h
                down[rows][i, j] -= h
                with torch.no_grad():
                    f_up = critic(torch.as_tensor(up))[g].item()
                    f_down = critic(torch.as_tensor(down))[g].item()
                grad[i, j] = (f_up - f_down) / (2 * h)
        expected.append((np.linalg.norm(grad) - 1.0) ** 2)
    assert got.item() == pytest.approx(np.mean(expected), rel=1e-6)
    got.backward()  # differentiable: it can be minimised
    assert net[0].weight.grad is not None and torch.all(torch.isfinite(net[0].weight.grad))


def test_spectral_norm_bounds_largest_singular_value():
    torch.manual_seed(0)
    d = Discriminator("mlp", 2, 0, 1, (64, 64), None, (8,), spectral_norm=True)
    for layer in [m for m in d.modules() if isinstance(m, torch.nn.Linear)]:
        with torch.no_grad():
            layer.parametrizations.weight.original.mul_(10.0)  # far above norm 1
    x, c = torch.randn(32, 2), torch.zeros(32, 0)
    d.train()
    for _ in range(30):  # each training-mode call runs one power iteration
        d(x, c)
    d.eval()
    linears = [m for m in d.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 3
    for layer in linears:
        raw = torch.linalg.matrix_norm(layer.parametrizations.weight.original, ord=2).item()
        sigma = torch.linalg.matrix_norm(layer.weight, ord=2).item()
        assert raw > 5.0
        assert sigma == pytest.approx(1.0, abs=1e-3)
    # so the whole network is 1-Lipschitz (leaky ReLU is): |D(a) - D(b)| <= |a - b|
    a, b = torch.randn(200, 2), torch.randn(200, 2)
    with torch.no_grad():
        diff = (d(a, c[:1].expand(200, 0)) - d(b, c[:1].expand(200, 0))).abs()
    assert torch.all(diff <= (a - b).norm(dim=1) * (1 + 1e-3))


# -- training ---------------------------------------------------------------------------------
SHORT = dict(epochs=15, lr_g=2e-3, lr_d=2e-3, betas=(0.5, 0.9), pack=2, gradient_penalty=1.0)


@pytest.mark.parametrize("loss", ["ns", "wgan-gp", "hinge", "lsgan"])
def test_short_run_covers_both_modes(loss):
    X, _ = two_modes()
    model = tiny(loss=loss, seed=0, **SHORT).fit(X)
    s = model.sample(1000, seed=1)[:, 0]
    near_low, near_high = np.mean(np.abs(s + 2) < 0.5), np.mean(np.abs(s - 2) < 0.5)
    assert near_low + near_high > 0.7, (loss, near_low, near_high)  # on the data: signs right
    if loss != "lsgan":  # least squares collapses onto one mode in this short run (seeds 0, 1)
        assert near_low > 0.25 and near_high > 0.25, (loss, near_low, near_high)
    assert {"loss_d", "loss_g", "epoch", "time"} <= set(model.history_[0])
    assert model.loss_steps_.shape == (15 * (2000 // 64), 2)


def test_broken_loss_sign_is_caught(monkeypatch):
    # the same run with the generator's loss sign flipped must end far from the data
    X, _ = two_modes()
    real_losses = gan_module._losses

    def flipped(kind, s_real, s_fake):
        out = real_losses(kind, s_real, s_fake)
        return -out if s_real is None else out

    monkeypatch.setattr(gan_module, "_losses", flipped)
    s = tiny(seed=0, **SHORT).fit(X).sample(1000, seed=1)[:, 0]
    assert np.mean(np.abs(np.abs(s) - 2) < 0.5) < 0.5


def test_conditional_samples_follow_the_label():
    X, y = two_modes()
    model = tiny(seed=0, **SHORT).fit(X, y)
    low, high = model.sample(300, y=0, seed=0)[:, 0], model.sample(300, y=1, seed=0)[:, 0]
    assert np.mean(np.abs(low + 2) < 0.5) > 0.9 and np.mean(np.abs(high - 2) < 0.5) > 0.9
    with pytest.raises(ValueError, match="not seen in training"):
        model.sample(3, y=7)
    with pytest.raises(ValueError, match="conditional"):
        model.sample(3)


def test_categorical_code_layout():
    X, _ = two_modes(256)
    model = tiny(latent_categories=5, epochs=1, seed=0).fit(X)
    z = model._noise(20_000, torch.Generator().manual_seed(0))
    assert z.shape == (20_000, 4 + 5)
    code = z[:, 4:] / gan_module.CODE_SCALE  # one-hot, each category drawn uniformly
    assert torch.equal(code.sum(1), torch.ones(20_000)) and set(code.unique().tolist()) == {0, 1}
    counts = code.sum(0).numpy()
    assert np.all(np.abs(counts - 4000) < 5 * np.sqrt(20_000 * 0.2 * 0.8))
    noise = z[:, :4]
    assert abs(noise.mean().item()) < 0.02 and abs(noise.std().item() - 1) < 0.02
    assert model.g_net_.net[0].in_features == 4 + 5


def test_categorical_code_sends_each_category_to_one_mode():
    # two modes 40 std apart: with the code, each category lands on one mode and (almost)
    # nothing lies on the bridge between them
    X, _ = two_modes(4000)
    model = tiny(latent_categories=4, lr_decay=0.5, seed=0, **SHORT).fit(X)
    s = model.sample(2000, seed=1)[:, 0]
    # (4 categories may split 2 + 2 or 1 + 3 between the modes; without the code 8% of this
    # run's samples lie on the bridge)
    assert np.mean(np.abs(s + 2) < 0.5) > 0.2 and np.mean(np.abs(s - 2) < 0.5) > 0.2
    assert np.mean(np.abs(s) < 1.5) < 0.01
    gen = torch.Generator().manual_seed(2)
    for k in range(4):
        code = torch.zeros(500, 4)
        code[:, k] = gan_module.CODE_SCALE
        z = torch.cat([torch.randn(500, 4, generator=gen), code], dim=1)
        with torch.no_grad():
            x = model.g_ema_(z, torch.zeros(500, 0)).double().numpy()[:, 0]
        x = x * model.scale_[0] + model.center_[0]
        assert max(np.mean(x < 0), np.mean(x > 0)) > 0.99, k


def test_lr_decay_falls_linearly_to_zero_over_the_last_share():
    X, _ = two_modes(640)  # 10 steps per epoch, 40 in all; decay over the last 20
    seen = []
    model = tiny(epochs=4, lr_decay=0.5, lr_g=1e-3, lr_d=2e-3, seed=0)
    model.fit(X, callback=lambda epoch, rec: seen.append(
        (model.opt_g_.param_groups[0]["lr"], model.opt_d_.param_groups[0]["lr"])))
    # the rate of the last step of each epoch: step t (0-based) uses min(1, (40 - t) / 20)
    factors = [1.0, 1.0, 11 / 20, 1 / 20]
    np.testing.assert_allclose(seen, [(1e-3 * f, 2e-3 * f) for f in factors])
    constant = tiny(epochs=2, lr_g=1e-3, seed=0).fit(X)
    assert constant.opt_g_.param_groups[0]["lr"] == 1e-3
    # resuming to more epochs plans the decay over the new total: its last step (t = 59 of
    # 60, decay over the last 30) runs at 1/30 of the rate
    model.set_params(epochs=6).fit(X, resume=True)
    assert model.opt_g_.param_groups[0]["lr"] == pytest.approx(1e-3 / 30)
    # and lr_decay=0 on resume restores the full rates (they are set on every step)
    model.set_params(epochs=7, lr_decay=0.0, lr_g=5e-4).fit(X, resume=True)
    assert model.opt_g_.param_groups[0]["lr"] == 5e-4
    assert model.opt_d_.param_groups[0]["lr"] == 2e-3
    with pytest.raises(ValueError, match="lr_decay"):
        tiny(lr_decay=1.5).fit(X)
    with pytest.raises(ValueError, match="latent_categories"):
        tiny(latent_categories=-1).fit(X)


def test_dcgan_on_digit_images_and_snapshots(tmp_path, binary_digits):
    X, y = binary_digits
    images = X[:256].reshape(-1, 8, 8)
    model = tiny(generator="dcgan", conv_channels=(8, 16), epochs=2, snapshots=str(tmp_path),
                 seed=0).fit(images, y[:256])
    out = model.sample(5, y=3, seed=0)
    assert out.shape == (5, 8, 8) and out.min() >= 0 and out.max() <= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_0001.png", "epoch_0002.png"]


def test_auto_generator_is_dcgan_for_images_it_fits_and_mlp_otherwise(binary_digits):
    from genlearn.models.gan_nets import ConvGenerator, MLPGenerator

    X, _ = binary_digits
    images = tiny(epochs=1, conv_channels=(4, 8)).fit(X[:128].reshape(-1, 8, 8))
    assert isinstance(images.g_net_, ConvGenerator) and images.d_net_.kind == "dcgan"
    flat = tiny(epochs=1, conv_channels=(4, 8)).fit(X[:128])  # 64 columns: a square image
    assert isinstance(flat.g_net_, ConvGenerator)
    points = tiny(epochs=1).fit(two_modes(128)[0])
    assert isinstance(points.g_net_, MLPGenerator) and points.d_net_.kind == "mlp"
    odd = tiny(epochs=1).fit(np.random.default_rng(0).random((128, 6, 6)))  # 6 % 4 != 0
    assert isinstance(odd.g_net_, MLPGenerator) and odd.image_shape_ == (6, 6)
    # a table with a square number of columns is not an image: 16 standard-normal columns
    table = tiny(epochs=1).fit(np.random.default_rng(0).standard_normal((128, 16)))
    assert isinstance(table.g_net_, MLPGenerator)
    mixed = tiny(epochs=1, discriminator="mlp", conv_channels=(4, 8)).fit(X[:128])
    assert isinstance(mixed.g_net_, ConvGenerator) and mixed.d_net_.kind == "mlp"


def test_fourier_features_and_their_default_penalty():
    X, _ = two_modes(256)
    low_dim = tiny(epochs=1).fit(X)  # one column: Fourier features on, penalty 1 by default
    assert low_dim.d_net_.fourier is not None and low_dim._gp_weight() == 1.0
    wide = tiny(epochs=1).fit(np.random.default_rng(0).random((256, 16)))
    assert wide.d_net_.fourier is None and wide._gp_weight() == 0.0
    assert tiny(loss="wgan-gp", epochs=1).fit(X)._gp_weight() == 10.0
    assert tiny(fourier_features=0, epochs=1).fit(X)._gp_weight() == 0.0
    # the features keep x and add sin/cos of frequencies between 1 and fourier_scale
    ff = tiny(fourier_features=8, fourier_scale=5.0, epochs=1).fit(X).d_net_.fourier
    freq = ff.weight.norm(dim=0)
    assert ff.weight.shape == (1, 8) and torch.all((freq >= 1.0) & (freq < 5.0))
    x = torch.tensor([[0.3]])
    expected = torch.cat([x, torch.sin(x @ ff.weight), torch.cos(x @ ff.weight)], dim=1)
    torch.testing.assert_close(ff(x), expected)


def test_dcgan_builds_for_28x28_mnist_shaped_images():
    rng = np.random.default_rng(0)
    images = (rng.random((64, 28, 28)) > 0.8).astype(np.float64)
    model = tiny(generator="dcgan", conv_channels=(4, 8), epochs=1, batch_size=32,
                 pack=2).fit(images)
    assert model.image_shape_ == (28, 28)
    assert model.sample(3, seed=0).shape == (3, 28, 28)
    with pytest.raises(ValueError, match="divisible by 8"):
        tiny(generator="dcgan", conv_channels=(4, 8, 8)).fit(images)


def test_seed_repeats_and_ema_differs():
    X, _ = two_modes(500)
    a, b = tiny(seed=3).fit(X), tiny(seed=3).fit(X)
    np.testing.assert_array_equal(a.sample(20, seed=0), b.sample(20, seed=0))
    assert not np.allclose(a.sample(20, seed=0), a.sample(20, seed=0, ema=False))
    assert tiny(ema=0.0, seed=3).fit(X).sample(4, seed=0).shape == (4, 1)


def test_no_likelihood_but_sample_metrics():
    X, _ = two_modes(500)
    model = tiny().fit(X)
    with pytest.raises(TypeError, match="no likelihood.*sample-based metrics"):
        model.log_prob(X)
    with pytest.raises(TypeError, match="no likelihood"):
        model.score(X)
    metrics = model.evaluate(X)
    assert metrics["n"] == 500 and "likelihood" in metrics["estimator"]


def test_non_finite_loss_stops_with_step_and_keeps_last_good_weights(monkeypatch):
    X, _ = two_modes(640)  # 10 steps per epoch
    model = tiny(epochs=2, seed=0).fit(X)
    good = {k: v.clone() for k, v in model.g_ema_.state_dict().items()}
    calls = {"n": 0}
    real_losses = gan_module._losses

    def poisoned(kind, s_real, s_fake):
        calls["n"] += 1
        out = real_losses(kind, s_real, s_fake)
        return out * float("nan") if calls["n"] > 6 else out  # step 4 of the next epoch

    monkeypatch.setattr(gan_module, "_losses", poisoned)
    model.set_params(epochs=4)
    with pytest.raises(NonFiniteLossError, match=r"epoch 3, step 4"):
        model.fit(X, resume=True)
    assert model.epochs_trained_ == 2 and len(model.history_) == 2
    for k, v in model.g_ema_.state_dict().items():
        torch.testing.assert_close(v, good[k])


def test_exploding_loss_stops_like_a_non_finite_one(monkeypatch):
    X, _ = two_modes(640)
    real_losses = gan_module._losses
    calls = {"n": 0}

    def exploding(kind, s_real, s_fake):
        calls["n"] += 1
        out = real_losses(kind, s_real, s_fake)
        return out * 1e9 if calls["n"] > 4 else out  # the discriminator loss of step 3

    monkeypatch.setattr(gan_module, "_losses", exploding)
    model = tiny(epochs=2, seed=0)
    with pytest.raises(NonFiniteLossError, match=r"exploding loss_d .* epoch 1, step 3"):
        model.fit(X)
    assert model.history_ == [] and model.epochs_trained_ == 0


# -- checkpoints --------------------------------------------------------------------------------
def test_save_load_round_trip_and_resume(tmp_path):
    X, y = two_modes(500)
    model = tiny(pack=2, spectral_norm=True, loss="hinge", latent_categories=3, seed=1).fit(X, y)
    model.save(tmp_path / "gan")
    loaded = gl.load(tmp_path / "gan")
    assert isinstance(loaded, gl.GAN) and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.sample(50, y=1, seed=4), model.sample(50, y=1, seed=4))
    np.testing.assert_array_equal(loaded.loss_steps_, model.loss_steps_)
    assert loaded.history_ == model.history_
    # resuming the loaded copy equals training on without the round trip
    model.set_params(epochs=3).fit(X, y, resume=True)
    loaded.set_params(epochs=3).fit(X, y, resume=True)
    np.testing.assert_allclose(loaded.sample(50, y=0, seed=4), model.sample(50, y=0, seed=4),
                               rtol=1e-5, atol=1e-6)
    assert loaded.epochs_trained_ == 3


# -- bad input ----------------------------------------------------------------------------------
def test_bad_input():
    X, y = two_modes(200)
    with pytest.raises(ValueError, match="pack=3 must divide batch_size=64"):
        tiny(pack=3).fit(X)
    with pytest.raises(ValueError, match="n_critic must be >= 1"):
        tiny(n_critic=0).fit(X)
    with pytest.raises(ValueError, match="loss must be one of"):
        tiny(loss="wgan").fit(X)
    with pytest.raises(ValueError, match="NaN or infinite"):
        tiny().fit(np.array([[0.0], [np.inf]] * 50))
    with pytest.raises(ValueError, match="NaN or infinite"):
        tiny().fit(np.array([[0.0], [np.nan]] * 50))
    model = tiny().fit(X)
    with pytest.raises(ValueError, match="2 features, but GAN is expecting 1 features as input"):
        model.evaluate(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="fitted without labels"):
        model.sample(3, y=1)
    with pytest.raises(ValueError, match="dcgan"):
        tiny(generator="dcgan").fit(X)
    with pytest.raises(ValueError, match="not fitted"):
        tiny().sample(2)
    assert clone(model).get_params() == model.get_params()


# -- the command line -----------------------------------------------------------------------------
def test_cli_trains_samples_and_evaluates_on_the_ring(tmp_path, capsys):
    from genlearn.cli import main

    out = tmp_path / "gan"
    args = ["train", "gan", "--data", "ring", "--out", str(out), "--epochs", "1", "--hidden-g",
            "16", "--hidden-d", "16", "--pack", "2", "--snapshots", str(tmp_path / "snaps"), "-q"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "held-out sample metrics" in text and "frechet_distance" in text
    assert "mode coverage (2500 samples): " in text and "/8 modes" in text
    assert (tmp_path / "snaps" / "epoch_0001.png").is_file()
    assert "sample scatter plot:" in text and (out / "samples.png").is_file()
    model = gl.load(out)
    assert model.pack == 2 and model.hidden_g == (16,) and model.epochs_trained_ == 1
    assert main(["sample", str(out), "-n", "7", "-o", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (7, 2)
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json"]) == 0
    def not_json(name):  # NaN / Infinity are Python's extension, not JSON
        raise AssertionError(f"evaluate --json printed {name}")

    shown = json.loads(capsys.readouterr().out, parse_constant=not_json)
    assert "frechet_distance" in shown and shown["n_modes"] == 8
    # the same figures as mode_coverage on the model's own 2,500 samples with seed 0
    expected = gl.metrics.mode_coverage(model.sample(2500, seed=0),
                                        gl.datasets.toy2d_modes("ring"),
                                        gl.datasets.toy2d_std("ring"))
    assert shown["high_quality"] == expected["high_quality"]
    assert shown["modes_captured"] == expected["modes_captured"]


# -- defaults by data shape (issue 10) ------------------------------------------------------------
def test_defaults_follow_the_shape_of_the_data():
    from genlearn.models.gan_recipes import RECIPES

    rng = np.random.default_rng(0)
    fast = dict(epochs=1, verbose=False, device="cpu")
    points = gl.GAN(batch_size=64, **fast).fit(rng.normal(size=(128, 2)))
    assert points.recipe_ == "low_dim"
    # an explicit setting wins over the recipe
    assert points.settings_ == {**RECIPES["low_dim"], "batch_size": 64, "epochs": 1}
    assert points.get_params()["pack"] is None  # stored as given
    assert points._n_fourier() == 128 and points._gp_weight() == 1.0
    images = gl.GAN(batch_size=16, **fast).fit(rng.random((32, 8, 8)))
    assert images.recipe_ == "image" and images._g_kind() == "dcgan"
    assert images.settings_["latent_dim"] == 32 and images.settings_["lr_decay"] == 0.0
    table = gl.GAN(batch_size=16, **fast).fit(rng.normal(size=(32, 5)))
    assert table.recipe_ == "table" and table.settings_["latent_categories"] == 0
    # the recipe is part of the checkpoint; an explicit value still wins on resume
    points.set_params(lr_g=5e-4, epochs=2).fit(rng.normal(size=(128, 2)), resume=True)
    assert points.settings_["lr_g"] == 5e-4 and points.settings_["lr_d"] == 1e-3


def test_defaults_survive_a_checkpoint(tmp_path):
    X = np.random.default_rng(1).normal(size=(128, 2))
    model = gl.GAN(batch_size=64, epochs=1, verbose=False, device="cpu").fit(X)
    loaded = gl.load(model.save(tmp_path / "g"))
    assert loaded.recipe_ == "low_dim" and loaded.settings_ == model.settings_
    np.testing.assert_array_equal(loaded.sample(20, seed=0), model.sample(20, seed=0))
