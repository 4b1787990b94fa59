"""Variational autoencoder (Kingma & Welling 2014), conditional on class labels when given.

    p(x, z) = p(z) p(x | z),   q(z | x) = N(z | mu(x), diag sigma^2(x))
    ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || p(z))  <=  log p(x)

``log_prob`` is the importance-weighted estimate of Burda et al. (2015) with ``k`` samples from
q (default ``iw_samples=1000``): log (1/k) sum_i p(x, z_i) / q(z_i | x). It is a lower bound in
expectation that tightens as k grows; ``elbo`` is the k = 1 bound, named as such.

The prior p(z) is N(0, I), a learned mixture of Gaussians, or the VampPrior (Tomczak & Welling
2018). Encoder and decoder are MLPs, or strided convolutions (``architecture="conv"``, for square
images such as 28x28 MNIST). The likelihood is Bernoulli (data in [0, 1]) or Gaussian with a
learned variance (on standardised columns; ``log_prob`` adds the Jacobian -sum_j log std_j so
it is the density of the data in its own units), either produced by the decoder or one per
feature (``"feature"``; with
``hidden=()`` that makes a linear-Gaussian model, i.e. factor analysis, whose exact marginal
likelihood the tests use). Training maximises the ELBO with a beta weight and linear KL warm-up,
or the IWAE bound (``objective="iwae"``).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

from .._threads import check_threads
from .._utils import (
    check_array,
    check_choice,
    check_common,
    check_float,
    check_int,
    check_n,
    torch_generator,
)
from ..nets import ACTIVATIONS
from ..ops import gaussian_log_prob, importance_weighted_log_prob, kl_normal_std, log_mean_exp
from ..registry import register
from ..training import EpochModel, EpochPlan
from ..training.epoch import Rows
from .vae_nets import VAENet

log = logging.getLogger(__name__)

LIKELIHOODS = ("bernoulli", "gaussian")


@register("vae")
class VAE(EpochModel):
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
    standardize : bool
        Gaussian only: the network sees each column standardised, (x - mean) / std over the
        training rows (a constant column keeps scale 1), so data in any units (pixels x 255,
        incomes) train like data near unit scale. ``sample``, ``decode`` and ``reconstruct``
        map back to the data's units, and ``log_prob`` / ``elbo`` are densities of the data
        itself: they add the Jacobian -sum_j log std_j.
    gaussian_variance : {"decoder", "feature"}
        Gaussian only: variance output by the decoder per example, or one learned per feature.
    min_std : float
        Gaussian only: floor on the standard deviation (in standardised units when
        ``standardize``), so the density stays bounded.
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
        Makes a CPU run bit-for-bit repeatable (and a resumed run equal to an uninterrupted
        one).
    threads : int or None
        Torch CPU threads while training; None chooses by the size of the work (one thread
        for small networks, see ``genlearn._threads``). The caller's setting is restored.
    device : {"auto", "cpu", "cuda"}
    verbose : bool
        Show a progress bar.
    """

    input_kind = "rows"
    conditional = True
    has_likelihood = True

    def __init__(self, latent_dim=16, hidden=(256, 256), architecture="mlp", conv_channels=(32, 64),
                 likelihood="bernoulli", standardize=True, gaussian_variance="decoder",
                 min_std=1e-3,
                 activation="relu", beta=1.0, warmup_epochs=0, objective="elbo", train_samples=1,
                 epochs=200, batch_size=100, lr=1e-3, lr_schedule="constant", weight_decay=0.0,
                 dropout=0.0, prior="normal", prior_components=50, early_stopping=False,
                 validation_fraction=0.1, patience=20, iw_samples=1000, image_shape=None, seed=0,
                 threads=None, device="auto", verbose=True):
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.architecture = architecture
        self.conv_channels = conv_channels
        self.likelihood = likelihood
        self.standardize = standardize
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
        self.threads = threads
        self.device = device
        self.verbose = verbose

    @classmethod
    def _contract_example(cls) -> dict:
        rng = np.random.default_rng(0)
        X = (rng.random((48, 8)) < 0.4).astype(np.float64)
        return {"params": dict(latent_dim=2, hidden=(8,), epochs=2, batch_size=16,
                               iw_samples=4, verbose=False, device="cpu"),
                "X": X, "y": rng.integers(0, 2, 48)}

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
        if not isinstance(self.standardize, bool):
            raise ValueError(f"standardize must be True or False; got {self.standardize!r}")
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
        check_threads(self.threads)
        check_common(self)  # image_shape, seed, device, verbose

    # -- data -----------------------------------------------------------------------------
    def _domain(self) -> str:
        return "unit" if self.likelihood == "bernoulli" else "real"

    def _check_X(self, X) -> np.ndarray:
        flat, _ = check_array(X, n_features=self.n_features_in_, domain=self._domain(),
                              owner="VAE")
        return flat

    def _describe_rows(self, flat: np.ndarray) -> None:
        d = flat.shape[1]
        self.center_, self.scale_ = np.zeros(d), np.ones(d)
        if self.likelihood == "gaussian" and self.standardize:
            std = flat.std(0)
            self.center_ = flat.mean(0)
            self.scale_ = np.where(std > 0, std, 1.0)  # a constant column stays as it is

    def _extra_state(self) -> tuple[dict, dict]:
        return {}, {"center": torch.as_tensor(self.center_),
                    "scale": torch.as_tensor(self.scale_)}

    def _set_extra_state(self, meta: dict, tensors: dict) -> None:
        self.center_ = tensors["center"].double().numpy()
        self.scale_ = tensors["scale"].double().numpy()

    def _to_model(self, flat: np.ndarray) -> torch.Tensor:
        """Rows in the network's units (standardised for a Gaussian likelihood), float32."""
        if self.likelihood == "gaussian":
            flat = (flat - self.center_) / self.scale_
        return torch.as_tensor(flat, dtype=torch.float32, device=self.device_)

    def _from_model(self, x: np.ndarray) -> np.ndarray:
        return x * self.scale_ + self.center_ if self.likelihood == "gaussian" else x

    def _log_jacobian(self) -> float:
        """log |d x_model / d x| = -sum_j log scale_j: turns the network's density into the
        density of the data in its own units."""
        return float(-np.log(self.scale_).sum())

    def _rows_data(self, flat: np.ndarray, labels) -> Rows:
        if self.likelihood == "bernoulli" and not np.all((flat == 0) | (flat == 1)):
            log.warning("Bernoulli likelihood on data that are not binary: log_prob is then not "
                        "a normalised log-likelihood; binarize the data or use "
                        "likelihood='gaussian'")
        return Rows(self._to_model(flat), self._onehot(labels, flat.shape[0]))

    # -- network --------------------------------------------------------------------------
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
        self.net_ = VAENet(self.n_features_in_, self.latent_dim, tuple(self.hidden),
                           self.architecture, tuple(self.conv_channels), self.activation,
                           self.likelihood, self.gaussian_variance, n_classes, self.image_shape_,
                           self.min_std, self.dropout, self.prior,
                           self.prior_components).to(self.device_)
        self.optimizer_ = torch.optim.Adam(self.net_.parameters(), lr=self.lr,
                                           weight_decay=self.weight_decay)

    def _trainables(self) -> dict:
        return {"net": self.net_, "optimizer": self.optimizer_}

    def _work_size(self, plan: EpochPlan) -> float:
        if self.architecture == "conv":  # each weight is used at every pixel: leave torch be
            return float("inf")
        return float(self._parameter_count() * plan.batch_size * self.train_samples)

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
            jac = self._log_jacobian()  # the reported bounds are in the data's units
            return loss, {"elbo": float((rec - kl).mean().detach()) + jac,
                          "kl": float(kl.mean().detach())}
        log_pz = net.log_prior(z)
        log_qz = gaussian_log_prob(z, mean, log_var)
        bound = log_mean_exp(log_px + kl_weight * (log_pz - log_qz), dim=0)  # (B,)
        return -bound.mean(), {"iwae_bound": float(bound.mean().detach()) + self._log_jacobian()}

    def _kl(self, z: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || p(z)): closed form for N(0, I), else averaged over the draws z (S, B, L)."""
        if self.prior == "normal":
            return kl_normal_std(mean, log_var)
        return (gaussian_log_prob(z, mean, log_var) - self.net_.log_prior(z)).mean(0)

    def _plan(self, data: Rows, start: int, gen: torch.Generator) -> EpochPlan:
        plan = EpochPlan(data=data, batch_size=int(self.batch_size))
        if self.early_stopping:
            n = len(data)
            n_val = max(1, int(round(self.validation_fraction * n)))
            if n - n_val < 1:
                raise ValueError(f"validation_fraction={self.validation_fraction} leaves no "
                                 f"training rows out of {n}")
            # the first draw of the data-order generator; on resume the same draw, from a
            # fresh generator with the run's seed, so the split never changes
            split_gen = gen if start == 0 else torch.Generator().manual_seed(self.seed_)
            perm = torch.randperm(n, generator=split_gen)
            val = data.take(perm[:n_val])

            def evaluate(epoch):
                return {"val_elbo": float(self._elbo_tensor(val.x, val.c, seed=0).mean())}

            plan = EpochPlan(data=data.take(perm[n_val:]), batch_size=plan.batch_size,
                             evaluate=evaluate, monitor="val_elbo", patience=int(self.patience))
        steps_per_epoch = math.ceil(len(plan.data) / self.batch_size)
        self._total_steps = self.epochs * steps_per_epoch
        self._step_count = start * steps_per_epoch
        return plan

    def _train_step(self, data: Rows, idx: torch.Tensor, epoch: int) -> dict:
        self.net_.train()
        if self.lr_schedule == "cosine":
            frac = min(self._step_count / self._total_steps, 1.0)
            for group in self.optimizer_.param_groups:
                group["lr"] = 0.5 * self.lr * (1.0 + math.cos(math.pi * frac))
        self._step_count += 1
        loss, parts = self._loss(data.x[idx], data.c[idx], self._kl_weight(epoch))
        self.optimizer_.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer_.step()
        return {"loss": float(loss.detach()), **parts}

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
        return torch.cat(out) + self._log_jacobian()

    def elbo(self, X, y=None, *, n_samples: int = 1, seed=None) -> np.ndarray:
        """Per-example evidence lower bound (nats), averaged over ``n_samples`` draws of z.

        Not a log-likelihood: ELBO <= log p(x). For the likelihood use :meth:`log_prob`.
        """
        self._check_fitted()
        flat = self._check_X(X)
        n_samples = check_n(n_samples, "n_samples")
        x = self._to_model(flat)
        c = self._cond(y, flat.shape[0])
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
        log p(x | y). With a standardised Gaussian likelihood it includes the Jacobian
        -sum_j log std_j, so it is a density of ``X`` in its own units.
        """
        self._check_fitted()
        flat = self._check_X(X)
        k = check_n(self.iw_samples if k is None else k, "k")
        n, d = flat.shape
        x = self._to_model(flat)
        c = self._cond(y, n)
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

        lp = importance_weighted_log_prob(log_weights, n, k, batch_size=rows, chunk=chunk)
        return lp.numpy() + self._log_jacobian()

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
        return self._from_model(np.concatenate(outs)).reshape(z.shape[0], *self.data_shape_)

    def sample(self, n, y=None, *, seed=None, mean: bool = False) -> np.ndarray:
        """Draw ``n`` new examples, shaped like the training data.

        z ~ N(0, I), then x ~ p(x | z); ``mean=True`` returns E[x | z] instead (the smooth
        images usually shown in grids). ``y``: one label or ``n`` labels (conditional model).
        """
        self._check_fitted()
        n = check_n(n)
        c = self._cond(y, n)
        gen = torch_generator(self.device_, seed)
        with torch.no_grad():
            z = self.net_.eval().sample_prior(n, gen, self.device_)
        return self._decode_np(z, c, draw=not mean, gen=gen)

    @torch.no_grad()
    def encode(self, X, y=None, *, return_log_var: bool = False):
        """Posterior mean of z for each row (and its log-variance with ``return_log_var``)."""
        self._check_fitted()
        flat = self._check_X(X)
        x = self._to_model(flat)
        c = self._cond(y, flat.shape[0])
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
        return self._decode_np(z, self._cond(y, flat.shape[0]), draw=False)

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
