"""Variational autoencoder (Kingma & Welling 2014), conditional on class labels when given.

    p(x, z) = p(z) p(x | z),   q(z | x) = N(z | mu(x), diag sigma^2(x))
    ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || p(z))  <=  log p(x)

``log_prob`` is the importance-weighted estimate of Burda et al. (2015) with ``k`` samples from
q (default ``iw_samples=1000``): log (1/k) sum_i p(x, z_i) / q(z_i | x). It is a lower bound in
expectation that tightens as k grows; ``elbo`` is the k = 1 bound, named as such.

The prior p(z) is N(0, I), a learned mixture of Gaussians, or the VampPrior (Tomczak & Welling
2018). Encoder and decoder are MLPs, or strided convolutions (``architecture="conv"``, for square
images such as 28x28 MNIST). The likelihood is Bernoulli (data in [0, 1]) or Gaussian with a
learned variance, either produced by the decoder or one per feature (``"feature"``; with
``hidden=()`` that makes a linear-Gaussian model, i.e. factor analysis, whose exact marginal
likelihood the tests use). Training maximises the ELBO with a beta weight and linear KL warm-up,
or the IWAE bound (``objective="iwae"``).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch import nn

from .._utils import (
    check_array,
    check_choice,
    check_common,
    check_float,
    check_int,
    check_labels,
    check_n,
    resolve_device,
    strip_prefix,
    torch_generator,
)
from ..base import GenerativeModel
from ..nets import ACTIVATIONS, conv_downsampler, conv_upsampler, mlp
from ..ops import (
    bernoulli_log_prob,
    gaussian_log_prob,
    importance_weighted_log_prob,
    kl_normal_std,
    log_mean_exp,
    standard_normal_log_prob,
)
from ..registry import register
from ..training import run_epochs
from ..training.state import clone_optimizer_state, flatten_optimizer, unflatten_optimizer

log = logging.getLogger(__name__)

LIKELIHOODS = ("bernoulli", "gaussian")


class _VAENet(nn.Module):
    """Encoder q(z | x, c) and decoder p(x | z, c); ``c`` is a one-hot label or empty."""

    def __init__(self, n_features: int, latent_dim: int, hidden: tuple[int, ...], architecture: str,
                 conv_channels: tuple[int, ...], activation: str, likelihood: str,
                 gaussian_variance: str, n_classes: int, image_shape: tuple[int, int] | None,
                 min_std: float, dropout: float = 0.0, prior: str = "normal",
                 prior_components: int = 1):
        super().__init__()
        self.prior = prior
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.decoder_variance = likelihood == "gaussian" and gaussian_variance == "decoder"
        self.log_min_var = 2.0 * math.log(min_std)
        self.n_features = n_features
        n_out = 2 if self.decoder_variance else 1
        hidden = tuple(hidden)
        if architecture == "conv":
            self.enc_conv, width = conv_downsampler(image_shape, conv_channels, activation)
        else:
            self.enc_conv, width = nn.Identity(), n_features
        self.enc_body = mlp([width + n_classes, *hidden], activation, final_activation=True,
                            dropout=dropout)
        self.enc_head = nn.Linear(hidden[-1] if hidden else width + n_classes, 2 * latent_dim)
        dec_hidden = hidden[::-1]
        if architecture == "conv":
            self.dec = nn.Sequential(
                mlp([latent_dim + n_classes, *dec_hidden], activation, final_activation=True,
                    dropout=dropout),
                conv_upsampler(image_shape,
                               dec_hidden[-1] if dec_hidden else latent_dim + n_classes,
                               conv_channels[::-1], activation, out_channels=n_out))
        else:
            self.dec = mlp([latent_dim + n_classes, *dec_hidden, n_out * n_features], activation,
                           dropout=dropout)
        if likelihood == "gaussian" and not self.decoder_variance:
            self.feature_log_var = nn.Parameter(torch.zeros(n_features))
        K = prior_components
        if prior == "mog":  # learned mixture of Gaussians, spread out at the start
            self.prior_means = nn.Parameter(torch.randn(K, latent_dim))
            self.prior_log_vars = nn.Parameter(torch.zeros(K, latent_dim))
            self.prior_logits = nn.Parameter(torch.zeros(K))
        elif prior == "vamp":  # VampPrior: the posterior at K learned pseudo-inputs
            self.pseudo_inputs = nn.Parameter(0.5 + 0.01 * torch.randn(K, n_features))
            self.n_classes = n_classes

    def prior_components(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """(log weights (K,), means (K, L), log-variances (K, L)); None for N(0, I)."""
        if self.prior == "mog":
            return (torch.log_softmax(self.prior_logits, 0), self.prior_means,
                    self.prior_log_vars)
        if self.prior == "vamp":
            u = self.pseudo_inputs
            if self.likelihood == "bernoulli":
                u = torch.clamp(u, 0.0, 1.0)  # pseudo-inputs live where the data do
            c = torch.zeros(u.shape[0], self.n_classes, device=u.device, dtype=u.dtype)
            means, log_vars = self.encode(u, c)
            K = u.shape[0]
            return torch.full((K,), -math.log(K), device=u.device), means, log_vars
        return None

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) for z of shape (..., L)."""
        comps = self.prior_components()
        if comps is None:
            return standard_normal_log_prob(z)
        log_w, means, log_vars = comps
        per = gaussian_log_prob(z.unsqueeze(-2), means, log_vars)  # (..., K)
        return torch.logsumexp(per + log_w, dim=-1)

    def sample_prior(self, n: int, generator: torch.Generator | None, device) -> torch.Tensor:
        comps = self.prior_components()
        eps = torch.randn((n, self.latent_dim), generator=generator, device=device)
        if comps is None:
            return eps
        log_w, means, log_vars = comps
        k = torch.multinomial(torch.exp(log_w), n, replacement=True, generator=generator)
        return means[k] + torch.exp(0.5 * log_vars[k]) * eps

    def encode(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.enc_body(torch.cat([self.enc_conv(x), c], dim=-1))
        mean, log_var = self.enc_head(h).chunk(2, dim=-1)
        return mean, log_var

    def decode(self, z: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, L) -> logits (Bernoulli) or (mean, log_var) (Gaussian), each (B, D)."""
        out = self.dec(torch.cat([z, c], dim=-1))
        if self.likelihood == "bernoulli":
            return out, None
        if self.decoder_variance:
            mean, raw = out[:, : self.n_features], out[:, self.n_features:]
        else:
            mean, raw = out, self.feature_log_var.expand_as(out)
        # variance = min_var + exp(raw), in log space: a floor keeps the density bounded
        log_var = torch.logaddexp(raw, torch.full_like(raw, self.log_min_var))
        return mean, log_var

    def log_lik(self, x: torch.Tensor, params: tuple[torch.Tensor, torch.Tensor | None]):
        first, log_var = params
        if self.likelihood == "bernoulli":
            return bernoulli_log_prob(x, first)
        return gaussian_log_prob(x, first, log_var)


@register("vae")
class VAE(GenerativeModel):
    """Variational autoencoder with importance-weighted log-likelihood.

    Parameters
    ----------
    latent_dim : int
        Size of the latent code z.
    hidden : tuple of int
        Hidden layer widths of the encoder (the decoder mirrors them). ``()`` is linear.
    architecture : {"mlp", "conv"}
        ``"conv"`` adds strided convolutions for square images (H, W divisible by 4).
    conv_channels : tuple of int
        Channels of the convolutional layers (encoder order).
    likelihood : {"bernoulli", "gaussian"}
        Bernoulli for data in [0, 1] (binary pixels); Gaussian with learned variance otherwise.
    gaussian_variance : {"decoder", "feature"}
        Gaussian only: variance output by the decoder per example, or one learned per feature.
    min_std : float
        Gaussian only: floor on the standard deviation, so the density stays bounded.
    activation : str
        One of ``relu``, ``elu``, ``tanh``, ``leaky_relu``, ``softplus``, ``gelu``.
    beta : float
        Weight of the KL term (beta-VAE); 1 is the true ELBO.
    warmup_epochs : int
        KL warm-up: the KL weight grows linearly from 0 to ``beta`` over these epochs.
    objective : {"elbo", "iwae"}
        Train on the ELBO or on the importance-weighted bound with ``train_samples`` samples.
    train_samples : int
        Samples of z per example per step.
    epochs, batch_size, lr, weight_decay
        Adam optimisation settings (``weight_decay`` is an L2 penalty).
    lr_schedule : {"constant", "cosine"}
        ``"cosine"`` anneals the learning rate to 0 over ``epochs`` (per step).
    dropout : float
        Dropout rate after each hidden layer of encoder and decoder, during training only.
    prior : {"normal", "mog", "vamp"}
        p(z): the standard normal; a learned mixture of ``prior_components`` Gaussians; or the
        VampPrior (Tomczak & Welling 2018), the mixture of the encoder's posteriors at
        ``prior_components`` learned pseudo-inputs. With a learned prior the KL term of the ELBO
        is estimated from the same draws of z.
    prior_components : int
        Mixture components of the ``"mog"`` and ``"vamp"`` priors.
    early_stopping : bool
        Hold out ``validation_fraction`` of the rows, stop after ``patience`` epochs without a
        better validation ELBO and keep the best weights.
    iw_samples : int
        Default k of ``log_prob``.
    image_shape : tuple of int or None
        (H, W) of image data; inferred from 2-D examples or a square feature count.
    seed : int or None
        Makes a CPU run bit-for-bit repeatable.
    device : {"auto", "cpu", "cuda"}
    verbose : bool
        Show a progress bar.
    """

    input_kind = "rows"
    conditional = True
    has_likelihood = True
    resumable = True
    epoch_trained = True

    def __init__(self, latent_dim=16, hidden=(256, 256), architecture="mlp", conv_channels=(32, 64),
                 likelihood="bernoulli", gaussian_variance="decoder", min_std=1e-3,
                 activation="relu", beta=1.0, warmup_epochs=0, objective="elbo", train_samples=1,
                 epochs=200, batch_size=100, lr=1e-3, lr_schedule="constant", weight_decay=0.0,
                 dropout=0.0, prior="normal", prior_components=50, early_stopping=False,
                 validation_fraction=0.1, patience=20, iw_samples=1000, image_shape=None, seed=0,
                 device="auto", verbose=True):
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.architecture = architecture
        self.conv_channels = conv_channels
        self.likelihood = likelihood
        self.gaussian_variance = gaussian_variance
        self.min_std = min_std
        self.activation = activation
        self.beta = beta
        self.warmup_epochs = warmup_epochs
        self.objective = objective
        self.train_samples = train_samples
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.prior = prior
        self.prior_components = prior_components
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.iw_samples = iw_samples
        self.image_shape = image_shape
        self.seed = seed
        self.device = device
        self.verbose = verbose
        self._validate_params()

    # -- hyperparameters ------------------------------------------------------------------
    def _validate_params(self) -> None:
        check_int(self.latent_dim, "latent_dim", low=1)
        if not isinstance(self.hidden, (tuple, list)):
            raise ValueError(f"hidden must be a tuple of layer widths; got {self.hidden!r}")
        for h in self.hidden:
            check_int(h, "hidden (each width)", low=1)
        check_choice(self.architecture, "architecture", ("mlp", "conv"))
        if not isinstance(self.conv_channels, (tuple, list)) or not self.conv_channels:
            raise ValueError(f"conv_channels must be a non-empty tuple; got {self.conv_channels!r}")
        for c in self.conv_channels:
            check_int(c, "conv_channels (each)", low=1)
        check_choice(self.likelihood, "likelihood", LIKELIHOODS)
        check_choice(self.gaussian_variance, "gaussian_variance", ("decoder", "feature"))
        check_float(self.min_std, "min_std", low=0.0, low_open=True)
        check_choice(self.activation, "activation", tuple(ACTIVATIONS))
        check_float(self.beta, "beta", low=0.0)
        check_int(self.warmup_epochs, "warmup_epochs", low=0)
        check_choice(self.objective, "objective", ("elbo", "iwae"))
        check_int(self.train_samples, "train_samples", low=1)
        check_int(self.epochs, "epochs", low=1)
        check_int(self.batch_size, "batch_size", low=1)
        check_float(self.lr, "lr", low=0.0, low_open=True)
        check_choice(self.lr_schedule, "lr_schedule", ("constant", "cosine"))
        check_float(self.weight_decay, "weight_decay", low=0.0)
        check_float(self.dropout, "dropout", low=0.0, high=1.0, high_open=True)
        check_choice(self.prior, "prior", ("normal", "mog", "vamp"))
        check_int(self.prior_components, "prior_components", low=1)
        if not isinstance(self.early_stopping, bool):
            raise ValueError(f"early_stopping must be True or False; got {self.early_stopping!r}")
        check_float(self.validation_fraction, "validation_fraction", low=0.0, high=1.0,
                    low_open=True, high_open=True)
        check_int(self.patience, "patience", low=1)
        check_int(self.iw_samples, "iw_samples", low=1)
        check_common(self)  # image_shape, seed, device, verbose

    # -- data -----------------------------------------------------------------------------
    def _domain(self) -> str:
        return "unit" if self.likelihood == "bernoulli" else "real"

    def _check_X(self, X, *, fitted: bool = True) -> np.ndarray:
        n_features = self.n_features_in_ if fitted else None
        flat, _ = check_array(X, n_features=n_features, domain=self._domain())
        return flat

    def _resolve_image_shape(self, data_shape: tuple[int, ...]) -> tuple[int, int] | None:
        if self.image_shape is not None:
            shape = tuple(int(s) for s in self.image_shape)
            if shape[0] * shape[1] != int(np.prod(data_shape)):
                raise ValueError(f"image_shape {shape} does not match {int(np.prod(data_shape))} "
                                 "features")
            return shape
        if len(data_shape) == 2:
            return data_shape
        if len(data_shape) == 3 and data_shape[0] == 1:
            return data_shape[1:]
        side = math.isqrt(int(np.prod(data_shape)))
        if len(data_shape) == 1 and side * side == data_shape[0] and side >= 4:
            return (side, side)
        return None

    def _onehot(self, y: np.ndarray | None, n: int) -> torch.Tensor:
        k = len(self.classes_) if self.classes_ is not None else 0
        out = torch.zeros(n, k, device=self.device_)
        if k:
            idx = torch.as_tensor(np.searchsorted(self.classes_, y), device=self.device_)
            out[torch.arange(n, device=self.device_), idx] = 1.0
        return out

    def _cond(self, y, n: int, *, required: bool) -> torch.Tensor:
        """One-hot labels for a conditional model; checks ``y`` against the training classes."""
        if self.classes_ is None:
            if y is not None:
                raise ValueError("y was given but this VAE was fitted without labels; fit(X, y) "
                                 "trains a conditional VAE")
            return self._onehot(None, n)
        if y is None:
            if required:
                raise ValueError("this VAE is conditional (fitted with y): pass the class "
                                 f"labels y (known: {self.classes_.tolist()})")
            return self._onehot(None, n)
        return self._onehot(check_labels(y, n, classes=self.classes_), n)

    def _build(self) -> None:
        if self.architecture == "conv":
            if self.image_shape_ is None:
                raise ValueError("architecture='conv' needs image data: pass 2-D examples or "
                                 "image_shape=(H, W)")
            L = len(self.conv_channels)
            if any(s % 2**L for s in self.image_shape_):
                raise ValueError(f"architecture='conv' with {L} conv layers needs H and W "
                                 f"divisible by {2**L}; got image_shape {self.image_shape_}")
        n_classes = 0 if self.classes_ is None else len(self.classes_)
        self.net_ = _VAENet(self.n_features_in_, self.latent_dim, tuple(self.hidden),
                            self.architecture, tuple(self.conv_channels), self.activation,
                            self.likelihood, self.gaussian_variance, n_classes, self.image_shape_,
                            self.min_std, self.dropout, self.prior,
                            self.prior_components).to(self.device_)
        self.optimizer_ = torch.optim.Adam(self.net_.parameters(), lr=self.lr,
                                           weight_decay=self.weight_decay)

    # -- training -------------------------------------------------------------------------
    def _kl_weight(self, epoch: int) -> float:
        if self.warmup_epochs == 0:
            return float(self.beta)
        return float(self.beta) * min(1.0, (epoch + 1) / self.warmup_epochs)

    def _loss(self, x: torch.Tensor, c: torch.Tensor, kl_weight: float):
        """Training loss (to minimise) and its parts for one batch."""
        net, S = self.net_, self.train_samples
        mean, log_var = net.encode(x, c)
        eps = torch.randn((S, *mean.shape), device=mean.device, dtype=mean.dtype)
        z = mean + torch.exp(0.5 * log_var) * eps  # (S, B, L)
        B = x.shape[0]
        params = net.decode(z.reshape(S * B, -1), c.repeat(S, 1))
        log_px = net.log_lik(x.repeat(S, 1), params).reshape(S, B)  # (S, B)
        if self.objective == "elbo":
            kl = self._kl(z, mean, log_var)  # (B,)
            rec = log_px.mean(0)
            loss = -(rec - kl_weight * kl).mean()
            return loss, {"elbo": float((rec - kl).mean().detach()),
                          "kl": float(kl.mean().detach())}
        log_pz = net.log_prior(z)
        log_qz = gaussian_log_prob(z, mean, log_var)
        bound = log_mean_exp(log_px + kl_weight * (log_pz - log_qz), dim=0)  # (B,)
        return -bound.mean(), {"iwae_bound": float(bound.mean().detach())}

    def _kl(self, z: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || p(z)): closed form for N(0, I), else averaged over the draws z (S, B, L)."""
        if self.prior == "normal":
            return kl_normal_std(mean, log_var)
        return (gaussian_log_prob(z, mean, log_var) - self.net_.log_prior(z)).mean(0)

    def fit(self, X, y=None, *, resume: bool = False, callback=None):
        """Train on ``X`` (rows are examples), with class labels ``y`` for a conditional VAE.

        ``resume=True`` continues a fitted (or loaded) model from the epoch it reached up to
        ``epochs``, optimizer state included. ``callback(epoch, record)`` runs after each
        epoch (the command line saves checkpoints with it). Returns ``self``.
        """
        self._validate_params()
        continuing = resume and getattr(self, "is_fitted_", False)
        flat, data_shape = check_array(X, domain=self._domain(),
                                       n_features=self.n_features_in_ if continuing else None)
        if continuing:
            if (y is None) != (self.classes_ is None):
                raise ValueError("resume must use the same kind of data: the model was fitted "
                                 + ("with" if self.classes_ is not None else "without") + " y")
        else:
            self.device_ = resolve_device(self.device)
            self.n_features_in_ = flat.shape[1]
            self.data_shape_ = data_shape
            self.image_shape_ = self._resolve_image_shape(data_shape)
            self.classes_ = None
            if y is not None:
                labels = check_labels(y, flat.shape[0])
                self.classes_ = np.unique(labels)
            self.history_ = []
            self.epochs_trained_ = 0
        labels = None if y is None else check_labels(y, flat.shape[0], classes=self.classes_)
        if self.likelihood == "bernoulli" and not np.all((flat == 0) | (flat == 1)):
            log.warning("Bernoulli likelihood on data that are not binary: log_prob is then not "
                        "a normalised log-likelihood; binarize the data or use "
                        "likelihood='gaussian'")
        start = self.epochs_trained_ if continuing else 0
        seed = self.seed if self.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        devices = [self.device_] if self.device_.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed * 1_000_003 + start)
            if not continuing:
                self._build()
            gen = torch.Generator().manual_seed(seed + 17 * start)
            self._train(flat, labels, start, gen, callback)
        return self

    def _train(self, flat: np.ndarray, labels, start: int, gen: torch.Generator, callback):
        n = flat.shape[0]
        X_all = torch.as_tensor(flat, dtype=torch.float32, device=self.device_)
        C_all = self._onehot(labels, n)
        train_idx = torch.arange(n)
        evaluate = monitor = patience = None
        if self.early_stopping:
            n_val = max(1, int(round(self.validation_fraction * n)))
            if n - n_val < 1:
                raise ValueError(f"validation_fraction={self.validation_fraction} leaves no "
                                 f"training rows out of {n}")
            perm = torch.randperm(n, generator=gen)
            val_idx, train_idx = perm[:n_val], perm[n_val:]
            x_val, c_val = X_all[val_idx], C_all[val_idx]

            def evaluate(epoch):
                return {"val_elbo": float(self._elbo_tensor(x_val, c_val, seed=0).mean())}

            monitor, patience = "val_elbo", self.patience
        X_tr, C_tr = X_all[train_idx], C_all[train_idx]

        steps_per_epoch = math.ceil(len(train_idx) / self.batch_size)
        total_steps = self.epochs * steps_per_epoch
        counter = {"i": start * steps_per_epoch}

        def step(idx, epoch):
            self.net_.train()
            if self.lr_schedule == "cosine":
                frac = min(counter["i"] / total_steps, 1.0)
                for group in self.optimizer_.param_groups:
                    group["lr"] = 0.5 * self.lr * (1.0 + math.cos(math.pi * frac))
            counter["i"] += 1
            loss, parts = self._loss(X_tr[idx], C_tr[idx], self._kl_weight(epoch))
            self.optimizer_.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer_.step()
            return {"loss": float(loss.detach()), **parts}

        def on_epoch(epoch, record):
            self.epochs_trained_ = epoch
            self.is_fitted_ = True
            if callback is not None:
                callback(epoch, record)

        self.is_fitted_ = True  # the initial weights are a valid (if poor) model
        self.stop_reason_ = run_epochs(
            start_epoch=start, epochs=self.epochs, n_rows=len(train_idx),
            batch_size=self.batch_size, generator=gen, step=step, history=self.history_,
            snapshot=self._snapshot, restore=self._restore, evaluate=evaluate, monitor=monitor,
            patience=patience, callback=on_epoch, verbose=self.verbose, desc="VAE")
        self.epochs_trained_ = self.history_[-1]["epoch"] if self.history_ else start
        self.net_.eval()

    def _snapshot(self):
        return ({k: v.detach().clone() for k, v in self.net_.state_dict().items()},
                clone_optimizer_state(self.optimizer_.state_dict()), len(self.history_))

    def _restore(self, snap) -> None:
        weights, opt, n_hist = snap
        self.net_.load_state_dict(weights)
        self.optimizer_.load_state_dict(opt)
        del self.history_[n_hist:]
        self.epochs_trained_ = self.history_[-1]["epoch"] if self.history_ else 0

    # -- inference ------------------------------------------------------------------------
    def _batches(self, n: int, rows: int = 1024):
        for start in range(0, n, rows):
            yield slice(start, min(start + rows, n))

    @torch.no_grad()
    def _elbo_tensor(self, x: torch.Tensor, c: torch.Tensor, *, seed, n_samples: int = 1):
        gen = torch_generator(self.device_, seed)
        net = self.net_.eval()
        out = []
        for sl in self._batches(x.shape[0]):
            xb, cb = x[sl], c[sl]
            mean, log_var = net.encode(xb, cb)
            eps = torch.randn((n_samples, *mean.shape), generator=gen, device=mean.device)
            z = mean + torch.exp(0.5 * log_var) * eps
            B = xb.shape[0]
            params = net.decode(z.reshape(n_samples * B, -1), cb.repeat(n_samples, 1))
            rec = net.log_lik(xb.repeat(n_samples, 1), params).reshape(n_samples, B).mean(0)
            out.append(rec - self._kl(z, mean, log_var))
        return torch.cat(out)

    def elbo(self, X, y=None, *, n_samples: int = 1, seed=None) -> np.ndarray:
        """Per-example evidence lower bound (nats), averaged over ``n_samples`` draws of z.

        Not a log-likelihood: ELBO <= log p(x). For the likelihood use :meth:`log_prob`.
        """
        self._check_fitted()
        flat = self._check_X(X)
        n_samples = check_n(n_samples, "n_samples")
        x = torch.as_tensor(flat, dtype=torch.float32, device=self.device_)
        c = self._cond(y, flat.shape[0], required=True)
        seed = self._eval_seed(seed)
        return self._elbo_tensor(x, c, seed=seed, n_samples=n_samples).double().cpu().numpy()

    def _eval_seed(self, seed):
        return (self.seed if self.seed is not None else 0) if seed is None else seed

    def log_prob_estimator(self) -> str:
        return f"importance-weighted (IWAE), k={self.iw_samples}"

    def evaluate(self, X, y=None) -> dict:
        """Held-out IWAE log-likelihood, ELBO, and bits per dimension."""
        out = super().evaluate(X, y)
        out["elbo"] = float(np.mean(self.elbo(X, y)))
        out["nats_per_dim"] = -out["log_likelihood"] / self.n_features_in_
        return out

    @torch.no_grad()
    def log_prob(self, X, y=None, *, k: int | None = None, seed=None) -> np.ndarray:
        """Per-example log-likelihood in nats: the importance-weighted estimate (IWAE, k samples).

        log p(x) ~= log (1/k) sum_i p(x, z_i) / q(z_i | x) with z_i ~ q(z | x) (Burda et al.
        2015); ``k`` defaults to ``iw_samples`` (1000). It is a stochastic lower bound on log p(x)
        that tightens as ``k`` grows; ``seed`` fixes the draws. For a conditional model this is
        log p(x | y).
        """
        self._check_fitted()
        flat = self._check_X(X)
        k = check_n(self.iw_samples if k is None else k, "k")
        n, d = flat.shape
        x = torch.as_tensor(flat, dtype=torch.float32, device=self.device_)
        c = self._cond(y, n, required=True)
        gen = torch_generator(self.device_, self._eval_seed(seed))
        net = self.net_.eval()
        chunk = min(k, 500)
        width = max(d, max(self.hidden) if self.hidden else 1)
        rows = max(1, min(n, int(2e6 // (chunk * width))))

        def log_weights(idx, m):
            idx = idx.to(self.device_)
            xb, cb = x[idx], c[idx]
            B = xb.shape[0]
            mean, log_var = net.encode(xb, cb)
            eps = torch.randn((m, *mean.shape), generator=gen, device=mean.device)
            z = mean + torch.exp(0.5 * log_var) * eps  # (m, B, L)
            params = net.decode(z.reshape(m * B, -1), cb.repeat(m, 1))
            log_px = net.log_lik(xb.repeat(m, 1), params).reshape(m, B)
            return log_px + net.log_prior(z) - gaussian_log_prob(z, mean, log_var)

        return importance_weighted_log_prob(log_weights, n, k, batch_size=rows,
                                            chunk=chunk).numpy()

    @torch.no_grad()
    def _decode_np(self, z: torch.Tensor, c: torch.Tensor, *, draw: bool, gen=None) -> np.ndarray:
        net = self.net_.eval()
        outs = []
        for sl in self._batches(z.shape[0]):
            first, log_var = net.decode(z[sl], c[sl])
            if self.likelihood == "bernoulli":
                mean = torch.sigmoid(first)
                out = torch.bernoulli(mean, generator=gen) if draw else mean
            else:
                noise = torch.randn(first.shape, generator=gen, device=first.device) if draw else 0
                out = first + torch.exp(0.5 * log_var) * noise if draw else first
            outs.append(out.double().cpu().numpy())
        return np.concatenate(outs).reshape(z.shape[0], *self.data_shape_)

    def sample(self, n, y=None, *, seed=None, mean: bool = False) -> np.ndarray:
        """Draw ``n`` new examples, shaped like the training data.

        z ~ N(0, I), then x ~ p(x | z); ``mean=True`` returns E[x | z] instead (the smooth
        images usually shown in grids). ``y``: one label or ``n`` labels (conditional model).
        """
        self._check_fitted()
        n = check_n(n)
        c = self._cond(y, n, required=True)
        gen = torch_generator(self.device_, seed)
        with torch.no_grad():
            z = self.net_.eval().sample_prior(n, gen, self.device_)
        return self._decode_np(z, c, draw=not mean, gen=gen)

    @torch.no_grad()
    def encode(self, X, y=None, *, return_log_var: bool = False):
        """Posterior mean of z for each row (and its log-variance with ``return_log_var``)."""
        self._check_fitted()
        flat = self._check_X(X)
        x = torch.as_tensor(flat, dtype=torch.float32, device=self.device_)
        c = self._cond(y, flat.shape[0], required=True)
        net = self.net_.eval()
        parts = [net.encode(x[sl], c[sl]) for sl in self._batches(x.shape[0])]
        mean = torch.cat([p[0] for p in parts]).double().cpu().numpy()
        if return_log_var:
            return mean, torch.cat([p[1] for p in parts]).double().cpu().numpy()
        return mean

    def decode(self, Z, y=None) -> np.ndarray:
        """E[x | z] for each latent row of ``Z``, shaped like the training data."""
        self._check_fitted()
        flat, _ = check_array(Z, name="Z", n_features=self.latent_dim, allow_3d=False)
        z = torch.as_tensor(flat, dtype=torch.float32, device=self.device_)
        return self._decode_np(z, self._cond(y, flat.shape[0], required=True), draw=False)

    def reconstruct(self, X, y=None) -> np.ndarray:
        """decode(encode(X)): the model's reconstruction of each row."""
        return self.decode(self.encode(X, y), y)

    def interpolate(self, x_start, x_end, steps: int = 10, y=None) -> np.ndarray:
        """Decode ``steps`` points on the straight line between the codes of two examples."""
        steps = check_n(steps, "steps")
        ends = np.stack([np.asarray(x_start, dtype=np.float64).reshape(-1),
                         np.asarray(x_end, dtype=np.float64).reshape(-1)])
        y2 = None if y is None else np.broadcast_to(np.asarray(y), (2,))
        za, zb = self.encode(ends, y2)
        t = np.linspace(0.0, 1.0, steps)[:, None]
        return self.decode((1 - t) * za + t * zb, None if y is None else np.full(steps, y2[0]))

    # -- checkpoints ----------------------------------------------------------------------
    def _get_state(self):
        meta = self._fit_meta()
        tensors = {f"net.{k}": v for k, v in self.net_.state_dict().items()}
        opt_meta, opt_tensors = flatten_optimizer(self.optimizer_.state_dict())
        meta["optimizer"] = opt_meta
        tensors.update(opt_tensors)
        return meta, tensors

    def _set_state(self, meta, tensors) -> None:
        self.device_ = resolve_device(self.device)
        self._set_fit_meta(meta)
        self._build()
        self.net_.load_state_dict(strip_prefix(tensors, "net."), strict=True)
        self.net_.to(self.device_).eval()
        self.optimizer_.load_state_dict(unflatten_optimizer(meta["optimizer"], tensors))
        self.is_fitted_ = True
