"""Generative adversarial network (Goodfellow et al. 2014), conditional on labels when given.

    min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))],   z ~ N(0, I)

A generator G turns noise into examples; a discriminator D (a critic for WGAN) scores real
against generated ones; they train in turn, ``n_critic`` D steps per G step. Losses on the
score s = D(x): ``"ns"`` the non-saturating logistic loss of the paper, ``"wgan-gp"`` the
Wasserstein critic with the gradient penalty lambda E[(||grad D(x_hat)|| - 1)^2] on random
interpolates (Gulrajani et al. 2017), ``"hinge"`` (Miyato et al. 2018), ``"lsgan"`` least
squares (Mao et al. 2017). ``spectral_norm`` divides each D layer by its largest singular value
(Miyato et al. 2018); ``pack`` is PacGAN's packing (Lin et al. 2018): D scores m samples at
once, which penalises mode collapse; samples come from an exponential moving average of G's
weights (Yazici et al. 2019) unless ``ema=0``. On low-dimensional data (<= 3 columns, e.g. the
2-D ring and grid mixtures) the MLP discriminator sees random Fourier features of each point
(Tancik et al. 2020): a plain MLP cannot resolve modes 0.02 wide on a plane 4 wide, so it
cannot reject samples that fall between them.

A GAN defines no likelihood: :meth:`GAN.log_prob` raises ``TypeError`` and :meth:`evaluate`
reports sample-based metrics instead (``genlearn.metrics``).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .._threads import check_threads
from .._utils import (
    check_choice,
    check_common,
    check_float,
    check_int,
    check_n,
    torch_generator,
)
from ..registry import register
from ..training import EpochModel, EpochPlan
from ..training.epoch import Rows
from .gan_nets import ConvGenerator, Discriminator, MLPGenerator, _losses, gradient_penalty
from .gan_recipes import AUTO, RECIPES, choose_recipe, resolve
from .gan_report import sample_metrics, write_snapshot

log = logging.getLogger(__name__)

LOSSES = ("ns", "wgan-gp", "hinge", "lsgan")
# The one-hot category code enters the generator scaled by this much, against noise of unit
# variance: each category is then a tight, separate cluster of inputs, so the generator can
# send it to one mode. On the ring (seed 0, 64 categories) a category put on average 17% of
# its samples on its most common mode at scale 1 (chance: 12.5%; the bridges stayed) and 30%
# at scale 4; at 10 and 30 every category went to a single mode, and 30 did so on the grid too.
CODE_SCALE = 30.0
EXPLODING = 1e6  # a loss this large means the game has diverged


@register("gan")
class GAN(EpochModel):
    """Generative adversarial network: MLP or DCGAN networks, four losses, PacGAN, EMA.

    Defaults by data shape: the hyperparameters marked "(recipe)" default to None, which
    means the value of the recipe for the data (``genlearn.models.gan_recipes``): the
    mode-covering recipe of benchmarks/gan_modes.py for <= 3 columns, the DCGAN recipe of
    benchmarks/gan_digits.py for images, MLPs of 256-256-256 for other tables. An explicit
    value wins; ``settings_`` holds the values used. So ``gl.GAN().fit(X)`` on 2-D points
    trains what the mode-coverage benchmark measures (benchmarks/gan_defaults.py checks it).

    Parameters
    ----------
    generator : {"auto", "mlp", "dcgan"}
        MLP, or DCGAN-style transposed convolutions for images (H and W divisible by 4 with
        two conv layers). "auto": DCGAN for image data it fits (8x8 digits, 28x28 MNIST: rows
        given as 2-D images, or with ``image_shape``, or a square number of columns in [0, 1]),
        MLP otherwise (tables, 2-D points). On binarized digits the MLP default collapsed onto
        one or two digit classes (recall 0.00 in the digit classifier's feature space) where
        DCGAN reached recall 0.84 in 40 s.
    discriminator : {"mlp", "dcgan"} or None
        None: the same kind as the (resolved) generator.
    loss : {"ns", "wgan-gp", "hinge", "lsgan"}
        Non-saturating logistic, Wasserstein with gradient penalty, hinge, least squares.
    latent_dim : int (recipe)
        Size of the noise z ~ N(0, I).
    hidden_g, hidden_d : tuple of int (recipe)
        Hidden widths of the MLP generator / discriminator.
    conv_channels : tuple of int
        DCGAN discriminator channels (the generator mirrors them, doubled).
    lr_g, lr_d : float (recipe)
        Adam learning rates of generator and discriminator.
    betas : tuple of two floats (recipe)
        Adam's (beta1, beta2), shared by both.
    n_critic : int
        Discriminator steps per generator step (each on its own mini-batch).
    gradient_penalty : float or None
        Weight lambda of the gradient penalty; None means 10 for ``"wgan-gp"``, 1 for the
        other losses when the discriminator uses Fourier features, 0 otherwise.
    spectral_norm : bool
        Spectral normalisation of every discriminator layer.
    fourier_features : int or None
        MLP discriminator only: feed it [sin(xW), cos(xW)] for this many random directions W ~
        N(0, fourier_scale^2) of the standardised data instead of x. None: 128 for data with
        at most 3 features (where a plain MLP cannot resolve narrow modes), else 0 (off).
    fourier_scale : float (recipe)
        Standard deviation of W: the finest detail the discriminator sees is about
        1 / fourier_scale data standard deviations.
    ema : float
        Decay of the moving average of G's weights used by :meth:`sample` (0: no average).
    pack : int (recipe)
        PacGAN packing degree m; must divide ``batch_size``.
    latent_categories : int (recipe)
        0: the noise is z ~ N(0, I). C > 0: the generator also gets a one-hot code of a
        category drawn uniformly from C (scaled by 30 against the unit noise), so the noise is
        a mixture of C well-separated Gaussians (as in InfoGAN's categorical code or DeLiGAN's
        mixture, without their extra terms). A continuous map of one Gaussian cannot reach
        disconnected modes without putting samples on the bridges between them; with a code,
        each category can go to its own mode: for well-separated modes in few dimensions; on
        the digits it hurt (a DCGAN with 10 / 30 categories: recall 0.00 / 0.11 against 0.76).
    lr_decay : float (recipe)
        Share of the training steps at the end over which both learning rates fall linearly to
        zero (0: constant rates), planned over ``epochs``. The last updates are then small, so
        samples settle onto the modes. Resuming continues the schedule; resuming to a larger
        ``epochs`` plans the decay over the new total (the rates rise again).
    epochs, batch_size (recipe)
        Passes over the data (counted in discriminator batches) and rows per D step.
    snapshots : str or None
        Folder for a PNG of samples after every epoch (a grid for images, a scatter plot for
        2-D data).
    image_shape : tuple of int or None
        (H, W) of image data; inferred from 2-D examples or a square feature count.
    seed : int or None
        Makes a CPU run bit-for-bit repeatable (and a resumed run equal to an uninterrupted
        one).
    threads : int or None
        Torch CPU threads while training; None chooses by the size of the work (one thread
        for the MLP networks, torch's setting for DCGAN; see ``genlearn._threads``).
    device : {"auto", "cpu", "cuda"}
    verbose : bool
        Show a progress bar.
    """

    input_kind = "rows"
    conditional = True
    has_likelihood = False
    _tuple_params = ("hidden_g", "hidden_d", "betas")  # None by default; tuples when given

    def __init__(self, generator="auto", discriminator=None, loss="ns", latent_dim=None,
                 hidden_g=None, hidden_d=None, conv_channels=(64, 128), lr_g=None, lr_d=None,
                 betas=None, n_critic=1, gradient_penalty=None, spectral_norm=False,
                 fourier_features=None, fourier_scale=None, ema=0.999, pack=None,
                 latent_categories=None, lr_decay=None, epochs=None, batch_size=None,
                 snapshots=None, image_shape=None, seed=0, threads=None, device="auto",
                 verbose=True):
        self.generator = generator
        self.discriminator = discriminator
        self.loss = loss
        self.latent_dim = latent_dim
        self.hidden_g = hidden_g
        self.hidden_d = hidden_d
        self.conv_channels = conv_channels
        self.lr_g = lr_g
        self.lr_d = lr_d
        self.betas = betas
        self.n_critic = n_critic
        self.gradient_penalty = gradient_penalty
        self.spectral_norm = spectral_norm
        self.fourier_features = fourier_features
        self.fourier_scale = fourier_scale
        self.ema = ema
        self.pack = pack
        self.latent_categories = latent_categories
        self.lr_decay = lr_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.snapshots = snapshots
        self.image_shape = image_shape
        self.seed = seed
        self.threads = threads
        self.device = device
        self.verbose = verbose

    @classmethod
    def _contract_example(cls) -> dict:
        rng = np.random.default_rng(0)
        return {"params": dict(latent_dim=2, hidden_g=(8,), hidden_d=(8,), epochs=2,
                               batch_size=16, verbose=False, device="cpu"),
                "X": rng.normal(size=(48, 2)), "y": rng.integers(0, 2, 48)}

    # -- hyperparameters ------------------------------------------------------------------
    def _validate_params(self) -> None:
        check_choice(self.generator, "generator", ("auto", "mlp", "dcgan"))
        if self.discriminator is not None:
            check_choice(self.discriminator, "discriminator", ("mlp", "dcgan"))
        check_choice(self.loss, "loss", LOSSES)
        # None: the recipe for the data's shape (gan_recipes), resolved at fit
        given = {k: getattr(self, k) for k in AUTO if getattr(self, k) is not None}
        check_int(given.get("latent_dim", 1), "latent_dim", low=1)
        for name in ("hidden_g", "hidden_d", "conv_channels"):
            value = getattr(self, name)
            if value is None and name != "conv_channels":
                continue
            if not isinstance(value, (tuple, list)):
                raise ValueError(f"{name} must be a tuple of layer widths; got {value!r}")
            for h in value:
                check_int(h, f"{name} (each width)", low=1)
        if not self.conv_channels:
            raise ValueError("conv_channels must not be empty")
        check_float(given.get("lr_g", 1.0), "lr_g", low=0.0, low_open=True)
        check_float(given.get("lr_d", 1.0), "lr_d", low=0.0, low_open=True)
        betas = given.get("betas", (0.5, 0.5))
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2); got {betas!r}")
        for b in betas:
            check_float(b, "betas (each)", low=0.0, high=1.0, high_open=True)
        check_int(self.n_critic, "n_critic", low=1)
        if self.gradient_penalty is not None:
            check_float(self.gradient_penalty, "gradient_penalty", low=0.0)
        if self.loss == "wgan-gp" and self._gp_weight() == 0 and not self.spectral_norm:
            raise ValueError("loss='wgan-gp' needs gradient_penalty > 0 (or spectral_norm=True): "
                             "an unconstrained Wasserstein critic diverges")
        if not isinstance(self.spectral_norm, bool):
            raise ValueError(f"spectral_norm must be True or False; got {self.spectral_norm!r}")
        if self.fourier_features is not None:
            check_int(self.fourier_features, "fourier_features", low=0)
        check_float(given.get("fourier_scale", 1.0), "fourier_scale", low=0.0, low_open=True)
        check_float(self.ema, "ema", low=0.0, high=1.0, high_open=True)
        check_int(given.get("pack", 1), "pack", low=1)
        check_int(given.get("latent_categories", 0), "latent_categories", low=0)
        check_float(given.get("lr_decay", 0.0), "lr_decay", low=0.0, high=1.0)
        check_int(given.get("epochs", 1), "epochs", low=1)
        check_int(given.get("batch_size", 1), "batch_size", low=1)
        pack, batch = given.get("pack"), given.get("batch_size")
        if pack is not None and batch is not None and batch % pack:
            raise ValueError(f"pack={pack} must divide batch_size={batch}: the "
                             "discriminator scores the batch in groups of pack samples")
        if self.snapshots is not None and not isinstance(self.snapshots, (str, Path)):
            raise ValueError(f"snapshots must be a folder path or None; got {self.snapshots!r}")
        check_threads(self.threads)
        check_common(self)  # image_shape, seed, device, verbose

    def _gp_weight(self) -> float:
        if self.gradient_penalty is not None:
            return float(self.gradient_penalty)
        if self.loss == "wgan-gp":
            return 10.0
        # a discriminator on Fourier features resolves detail so fine that, unpenalised, it
        # separates real from generated points perfectly and G gets no useful gradient
        return 1.0 if getattr(self, "n_features_in_", None) and self._n_fourier() else 0.0

    def _d_kind(self) -> str:
        return self.discriminator or self._g_kind()

    def _g_kind(self) -> str:
        """The generator's kind; "auto" is "dcgan" for images the conv stack fits, else "mlp"."""
        if self.generator != "auto":
            return self.generator
        shape, L = self.image_shape_, len(self.conv_channels)
        # a square number of columns alone does not make a table an image: the rows must come
        # as 2-D arrays, or with image_shape, or as flat pixels in [0, 1]
        looks_like_image = (len(self.data_shape_) > 1 or self.image_shape is not None
                            or self.tanh_)
        if shape is not None and looks_like_image and not any(s % 2**L for s in shape):
            return "dcgan"
        return "mlp"

    def _n_fourier(self) -> int:
        if self._d_kind() != "mlp":
            return 0
        if self.fourier_features is None:
            return 128 if self.n_features_in_ <= 3 else 0
        return int(self.fourier_features)

    # -- data -----------------------------------------------------------------------------
    def _describe_rows(self, flat: np.ndarray) -> None:
        # data in [0, 1] (images) map to [-1, 1] under a tanh output; others are standardised
        self.tanh_ = bool(flat.min() >= 0.0 and flat.max() <= 1.0)
        if self.tanh_:
            self.center_, self.scale_ = np.full(flat.shape[1], 0.5), np.full(flat.shape[1], 0.5)
        else:
            self.center_ = flat.mean(0)
            self.scale_ = np.maximum(flat.std(0), 1e-8)
        self.g_steps_, self.loss_steps_ = 0, np.zeros((0, 2))
        self.recipe_ = choose_recipe(flat.shape[1], self._g_kind() == "dcgan")

    def _resolve_settings(self) -> None:
        """``settings_``: the explicit hyperparameters, the recipe's where they are None."""
        self.settings_ = resolve(self.recipe_, self.get_params())
        batch, pack = self.settings_["batch_size"], self.settings_["pack"]
        if batch % pack:
            raise ValueError(f"pack={pack} must divide batch_size={batch}: the "
                             "discriminator scores the batch in groups of pack samples")

    def _s(self, name: str):
        return self.settings_[name]

    def _epochs(self) -> int:
        return int(self.epochs if self.epochs is not None else RECIPES[self.recipe_]["epochs"])

    def _rows_data(self, flat: np.ndarray, labels) -> Rows:
        self._resolve_settings()  # every fit: a value changed by set_params takes effect
        if flat.shape[0] < self._s("pack"):
            raise ValueError(f"X has {flat.shape[0]} rows, fewer than pack={self._s('pack')}")
        if self.snapshots is not None and self.image_shape_ is None and flat.shape[1] != 2:
            raise ValueError("snapshots draws image grids or 2-D scatter plots; this data is "
                             "neither (pass image_shape for images)")
        return Rows(self._to_model_space(flat), self._onehot(labels, flat.shape[0]))

    def _to_model_space(self, flat: np.ndarray) -> torch.Tensor:
        x = (flat - self.center_) / self.scale_
        return torch.as_tensor(x, dtype=torch.float32, device=self.device_)

    # -- networks -------------------------------------------------------------------------
    def _build(self) -> None:
        kinds = (self._g_kind(), self._d_kind())
        if "dcgan" in kinds:
            if self.image_shape_ is None:
                raise ValueError("generator/discriminator 'dcgan' needs image data: pass 2-D "
                                 "examples or image_shape=(H, W)")
            L = len(self.conv_channels)
            if any(s % 2**L for s in self.image_shape_):
                raise ValueError(f"'dcgan' with {L} conv layers needs H and W divisible by "
                                 f"{2**L}; got image_shape {self.image_shape_}")
        K = 0 if self.classes_ is None else len(self.classes_)
        D = self.n_features_in_
        if self._g_kind() == "mlp":
            G = MLPGenerator(self._code_dim(), K, tuple(self._s("hidden_g")), D, self.tanh_)
        else:
            channels = tuple(2 * c for c in self.conv_channels[::-1])
            G = ConvGenerator(self._code_dim(), K, self.image_shape_, channels, self.tanh_)
        self.g_net_ = G.to(self.device_)
        self.d_net_ = Discriminator(self._d_kind(), D, K, self._s("pack"),
                                    tuple(self._s("hidden_d")),
                                    self.image_shape_, tuple(self.conv_channels),
                                    self.spectral_norm, self._n_fourier(),
                                    float(self._s("fourier_scale"))).to(self.device_)
        self.g_ema_ = copy.deepcopy(self.g_net_).eval()
        for p in self.g_ema_.parameters():
            p.requires_grad_(False)
        self._ema_params = list(self.g_ema_.parameters())
        self._g_params = list(self.g_net_.parameters())
        betas = tuple(float(b) for b in self._s("betas"))
        # foreach: one fused update per optimizer step (small networks are overhead-bound)
        self.opt_g_ = torch.optim.Adam(self.g_net_.parameters(), lr=self._s("lr_g"), betas=betas,
                                       foreach=True)
        self.opt_d_ = torch.optim.Adam(self.d_net_.parameters(), lr=self._s("lr_d"), betas=betas,
                                       foreach=True)

    @torch.no_grad()
    def _update_ema(self) -> None:
        # warm-up (Tan & Le style): early on the average follows G closely, then slows down
        t = self.g_steps_
        decay = min(self.ema, (1.0 + t) / (10.0 + t))
        torch._foreach_lerp_(self._ema_params, self._g_params, 1.0 - decay)
        for be, b in zip(self.g_ema_.buffers(), self.g_net_.buffers(), strict=True):
            be.copy_(b)

    def _code_dim(self) -> int:
        return int(self._s("latent_dim")) + int(self._s("latent_categories"))

    def _noise(self, n: int, gen: torch.Generator | None = None) -> torch.Tensor:
        """(n, latent_dim + latent_categories): Gaussian noise, then the one-hot category."""
        z = torch.randn((n, self._s("latent_dim")), generator=gen, device=self.device_)
        C = int(self._s("latent_categories"))
        if not C:
            return z
        k = torch.randint(C, (n,), generator=gen, device=self.device_)
        return torch.cat([z, CODE_SCALE * F.one_hot(k, C).to(z.dtype)], dim=1)

    # -- training -------------------------------------------------------------------------
    def _trainables(self) -> dict:
        return {"g": self.g_net_, "d": self.d_net_, "g_ema": self.g_ema_, "opt_g": self.opt_g_,
                "opt_d": self.opt_d_}

    def _extra_state(self) -> tuple[dict, dict]:
        meta = {"tanh_": self.tanh_, "g_steps_": self.g_steps_, "recipe_": self.recipe_}
        tensors = {"center": torch.as_tensor(self.center_), "scale": torch.as_tensor(self.scale_),
                   "loss_steps": torch.as_tensor(self.loss_steps_, dtype=torch.float64)}
        return meta, tensors

    def _set_extra_state(self, meta: dict, tensors: dict) -> None:
        self.tanh_ = bool(meta["tanh_"])
        self.g_steps_ = int(meta["g_steps_"])
        self.recipe_ = meta["recipe_"]
        self._resolve_settings()
        self.center_ = tensors["center"].double().numpy()
        self.scale_ = tensors["scale"].double().numpy()
        self.loss_steps_ = tensors["loss_steps"].double().numpy().reshape(-1, 2)
        self._epoch_losses = []  # the (loss_d, loss_g) of the steps of the epoch in progress

    def _work_size(self, plan: EpochPlan) -> float:
        if "dcgan" in (self._g_kind(), self._d_kind()):
            return float("inf")  # convolutions reuse each weight at every pixel: leave torch be
        return super()._work_size(plan)

    def _plan(self, data: Rows, start: int, gen: torch.Generator) -> EpochPlan:
        B = self._s("batch_size")
        # one step = n_critic discriminator batches and a generator batch; drop_last: whole
        # batches only
        self._steps_per_epoch = max(len(data) // (B * self.n_critic), 1)
        self._epoch_first_step = (None, 0)  # (epoch in progress, g_steps_ at its start)
        self._epoch_losses = []
        return EpochPlan(data=data, batch_size=B * self.n_critic, drop_last=True,
                         max_abs_loss=EXPLODING)

    def _set_lr(self, epoch: int) -> None:
        # linear decay to zero over the last lr_decay share of the steps planned for `epochs`;
        # the position is (epoch, step within it), so a resumed run continues the schedule (a
        # larger `epochs` on resume plans the decay afresh over the new total). Set on every
        # step, so a changed lr_g / lr_d or lr_decay=0 takes effect.
        if self._epoch_first_step[0] != epoch:
            self._epoch_first_step = (epoch, self.g_steps_)
        total = self._epochs() * self._steps_per_epoch
        t = epoch * self._steps_per_epoch + (self.g_steps_ - self._epoch_first_step[1])
        decay_steps = float(self._s("lr_decay")) * total
        left = total - t
        f = 1.0 if left >= decay_steps else max(left, 0) / decay_steps
        for opt, lr in ((self.opt_g_, self._s("lr_g")), (self.opt_d_, self._s("lr_d"))):
            for group in opt.param_groups:
                group["lr"] = lr * f

    def _d_step(self, x_real: torch.Tensor, c: torch.Tensor) -> float:
        m, gp = self._s("pack"), self._gp_weight()
        z = self._noise(x_real.shape[0])
        with torch.no_grad():
            x_fake = self.g_net_(z, c)
        s_real, s_fake = self.d_net_(x_real, c), self.d_net_(x_fake, c)
        loss = _losses(self.loss, s_real, s_fake)
        if gp > 0:
            eps = torch.rand(x_real.shape[0] // m, 1, device=self.device_)
            loss = loss + gp * gradient_penalty(lambda x: self.d_net_(x, c), x_real, x_fake,
                                                eps, m)
        self.opt_d_.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d_.step()
        return float(loss.detach())

    def _train_step(self, data: Rows, idx: torch.Tensor, epoch: int) -> dict:
        # one generator step after n_critic discriminator steps, each on B rows of idx
        B, m = self._s("batch_size"), self._s("pack")
        self.g_net_.train()
        self._set_lr(epoch)
        loss_d = []
        for chunk in idx.split(B):
            chunk = chunk[: len(chunk) - len(chunk) % m]
            if len(chunk):
                loss_d.append(self._d_step(data.x[chunk], data.c[chunk]))
        c = data.c[idx[:B]]  # the labels of real rows: the class frequencies of the data
        c = c[: c.shape[0] - c.shape[0] % m]
        z = self._noise(c.shape[0])
        loss_g = _losses(self.loss, None, self.d_net_(self.g_net_(z, c), c))
        self.opt_g_.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g_.step()
        self.g_steps_ += 1
        self._update_ema()
        record = {"loss_d": float(np.mean(loss_d)), "loss_g": float(loss_g.detach())}
        self._epoch_losses.append((record["loss_d"], record["loss_g"]))
        return record

    def _end_epoch(self, epoch: int, record: dict) -> None:
        steps = np.asarray(self._epoch_losses).reshape(-1, 2)
        self.loss_steps_ = np.concatenate([self.loss_steps_, steps])
        self._epoch_losses = []
        if self.snapshots is not None:
            write_snapshot(self, self.snapshots, epoch)

    # -- inference ------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n, y=None, *, seed=None, ema: bool | None = None) -> np.ndarray:
        """Draw ``n`` new examples, shaped like the training data.

        z ~ N(0, I), x = G(z) with the averaged weights (``ema=False``: the last weights).
        ``y``: one label or ``n`` labels (conditional model). ``seed`` fixes the draws.
        """
        self._check_fitted()
        n = check_n(n)
        c = self._cond(y, n)
        use_ema = self.ema > 0 if ema is None else bool(ema)
        net = (self.g_ema_ if use_ema else self.g_net_).eval()
        gen = torch_generator(self.device_, seed)
        z = self._noise(n, gen)
        outs = [net(z[s:s + 4096], c[s:s + 4096]) for s in range(0, n, 4096)]
        x = torch.cat(outs).double().cpu().numpy() * self.scale_ + self.center_
        if self.tanh_:
            x = np.clip(x, 0.0, 1.0)  # tanh's range maps to [0, 1] up to rounding
        return x.reshape(n, *self.data_shape_)

    def evaluate(self, X, y=None, *, seed=0) -> dict:
        """Sample-based metrics against held-out rows ``X``, from as many samples as rows.

        Fréchet distance and precision / recall / density / coverage (k = 5) in the held-out
        rows' standardized columns (``genlearn.metrics``; for digit images, a classifier
        feature space is better: see ``genlearn.metrics.digit_features``). ``y``: the held-out
        labels of a conditional model, reused for the samples.
        """
        return sample_metrics(self, X, y, seed=seed)
