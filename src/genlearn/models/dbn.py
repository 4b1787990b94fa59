"""Deep belief network (Hinton, Osindero & Teh 2006): a greedy stack of RBMs.

    p(v, h1, ..., hL) = p(v | h1) p(h1 | h2) ... p(h_{L-2} | h_{L-1}) p_top(h_{L-1}, h_L)

Each RBM is trained on the hidden probabilities of the one below (greedy layer-wise); the
directed layers use their RBM's conditional p(h_l | h_{l+1}) and the top RBM stays undirected.
Samples come from Gibbs sampling in the top RBM followed by one top-down pass.

The marginal log p(v) is intractable beyond one layer; :meth:`DBN.lower_bound` is the
variational bound with the factorial recognition model q(h_{l+1} | h_l) of the up-pass
(Hinton et al. 2006; Salakhutdinov & Murray 2008):

    log p(v) >= E_q[ log p_top(h_{L-1}) + sum_l log p(h_l | h_{l+1}) - log q(h_{l+1} | h_l) ]

estimated with samples of q and the top RBM's log Z (exact or AIS, as its ``log_partition``).
``log_prob`` is deliberately not defined: a bound is reported under its own name.

While it trains (and after Ctrl-C or a diverged layer) a DBN holds the layers trained so far:
``rbms_`` grows one RBM at a time, and a checkpoint written then is the DBN of those layers,
which ``fit(..., resume=True)`` completes. The DBN talks to its RBMs through their public
interface only: ``fit``, ``transform``, ``visible_rows``, ``energy``, ``sample``,
``log_partition`` and the checkpoint hooks.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import TransformerMixin

from .. import distributed
from .._utils import check_int, check_n, strip_prefix, torch_generator
from ..base import GenerativeModel
from ..registry import register
from .rbm import RBM


@register("dbn")
class DBN(TransformerMixin, GenerativeModel):
    """Greedy layer-wise stack of RBMs with top-down sampling and a variational lower bound.

    Parameters
    ----------
    layers : tuple of int
        Hidden layer widths, bottom to top; the top two layers form an RBM.
    visible : {"bernoulli", "gaussian", "softmax"}
        Units of the data layer (every upper layer is Bernoulli).
    groups, sigma, training, k, n_chains, lr, momentum, weight_decay, batch_size, epochs,
    lr_schedule, ais_chains, ais_betas, image_shape, seed, threads, device, verbose
        As :class:`~genlearn.RBM`, shared by every layer (layer i is seeded with seed + i).

    As a scikit-learn transformer, ``fit(X, y)`` ignores ``y`` and :meth:`transform` gives the
    top layer's probabilities after the up-pass.
    """

    input_kind = "rows"
    conditional = False
    has_likelihood = False
    resumable = True
    epoch_trained = True

    def __init__(self, layers=(500, 500, 2000), visible="bernoulli", groups=None,
                 sigma="learned", training="pcd", k=1, n_chains=20, lr=0.01, momentum=0.9,
                 weight_decay=1e-4, batch_size=20, epochs=50, lr_schedule="linear",
                 ais_chains=100, ais_betas=10000, image_shape=None, seed=0, threads=None,
                 device="auto", verbose=True):
        self.layers = layers
        self.visible = visible
        self.groups = groups
        self.sigma = sigma
        self.training = training
        self.k = k
        self.n_chains = n_chains
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.lr_schedule = lr_schedule
        self.ais_chains = ais_chains
        self.ais_betas = ais_betas
        self.image_shape = image_shape
        self.seed = seed
        self.threads = threads
        self.device = device
        self.verbose = verbose

    def _validate_params(self) -> None:
        if not isinstance(self.layers, (tuple, list)) or not self.layers:
            raise ValueError(f"layers must be a non-empty tuple of widths; got {self.layers!r}")
        for width in self.layers:
            check_int(width, "layers (each width)", low=1)
        self._layer_model(0)._validate_params()  # the shared RBM settings are checked there

    def _layer_model(self, i: int) -> RBM:
        bottom = i == 0
        return RBM(n_hidden=self.layers[i], visible=self.visible if bottom else "bernoulli",
                   groups=self.groups if bottom else None, sigma=self.sigma,
                   training=self.training, k=self.k, n_chains=self.n_chains, lr=self.lr,
                   momentum=self.momentum, weight_decay=self.weight_decay,
                   batch_size=self.batch_size, epochs=self.epochs, lr_schedule=self.lr_schedule,
                   ais_chains=self.ais_chains, ais_betas=self.ais_betas,
                   image_shape=self.image_shape if bottom else None,
                   seed=None if self.seed is None else self.seed + i, threads=self.threads,
                   device=self.device, verbose=self.verbose)

    def fit(self, X, y=None, *, resume: bool = False, callback=None):
        """Train the RBMs bottom-up, each on p(h = 1 | input) of the layer below; ``y`` is
        ignored (accepted so scikit-learn pipelines can pass it).

        ``resume=True`` continues every layer up to ``epochs`` (the upper layers then see the
        features of the updated lower layers) and trains the layers a partial checkpoint does
        not have yet. ``callback(epoch, record)`` runs after each epoch of each layer, with
        ``record["layer"]`` set; the DBN is then a valid model of the layers trained so far,
        so the callback may save it. Returns ``self``.
        """
        self._validate_params()
        continuing = resume and getattr(self, "is_fitted_", False)
        if continuing and len(self.rbms_) > len(self.layers):
            raise ValueError(f"resume needs the same layers as the fitted model: it has "
                             f"{len(self.rbms_)} layers, layers={tuple(self.layers)}")
        if not continuing:
            self.rbms_, self.history_, self.is_fitted_ = [], [], False
            self.epochs_trained_, self.stop_reason_ = 0, None
        own = isinstance(X, distributed.Sharded)  # each rank its own rows, layer after layer

        def up(rbm, data):  # the next layer's input (still a rank's own part when own)
            rows = rbm.transform(data.part if own else data)
            return distributed.Sharded(rows) if own else rows

        data = X
        for i in range(len(self.layers)):
            if i < len(self.rbms_):
                rbm, resume_layer = self.rbms_[i], continuing
                rbm.set_params(epochs=self.epochs, lr=self.lr, verbose=self.verbose)
            else:
                rbm, resume_layer = self._layer_model(i), False
            if resume_layer and rbm.epochs_trained_ >= self.epochs:  # this layer is done
                data = up(rbm, data) if i + 1 < len(self.layers) else data
                continue

            def on_epoch(epoch, record, i=i, rbm=rbm):
                if i == len(self.rbms_):  # this layer's first epoch: the stack grows
                    self.rbms_.append(rbm)
                self._describe_from(i, epoch)
                self.history_.append({"layer": i, **record})
                if callback is not None:
                    callback(epoch, {"layer": i, **record})

            before = len(getattr(rbm, "history_", []))
            logged = len(self.history_)
            rbm.fit(data, resume=resume_layer, callback=on_epoch)
            if len(self.history_) == logged:  # on_epoch never ran: in a process group only
                if i == len(self.rbms_):      # rank 0 runs callbacks; the others log here
                    self.rbms_.append(rbm)
                self.history_ += [{"layer": i, **r} for r in rbm.history_[before:]]
            self._describe_from(i, rbm.epochs_trained_)
            self.stop_reason_ = rbm.stop_reason_
            if i + 1 < len(self.layers):
                data = up(rbm, data)
        return self

    def _describe_from(self, layer: int, epoch: int) -> None:
        """The fitted description once layer ``layer`` has trained ``epoch`` epochs."""
        if layer == len(self.rbms_) - 1:  # epochs_trained_ counts the top layer's epochs
            self.epochs_trained_ = epoch
        self._describe_data()

    def _describe_data(self) -> None:
        """The data description is the bottom RBM's."""
        bottom = self.rbms_[0]
        self.n_features_in_ = bottom.n_features_in_
        self.data_shape_ = bottom.data_shape_
        self.image_shape_ = bottom.image_shape_
        self.is_fitted_ = True

    @property
    def n_layers_trained_(self) -> int:
        """Layers in the fitted stack (fewer than ``len(layers)`` while training)."""
        self._check_fitted()
        return len(self.rbms_)

    # -- features and generation --------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """The up-pass: p(h_L = 1 | ...) of the top layer, each layer on the probabilities of
        the one below (the features the stack was trained on)."""
        self._check_fitted()
        data = X
        for rbm in self.rbms_:
            data = rbm.transform(data)
        return data

    @torch.no_grad()
    def sample(self, n, *, gibbs_steps: int = 100, burn_in: int = 1000, seed=None,
               mean: bool = False) -> np.ndarray:
        """Gibbs sampling in the top RBM, then a top-down pass through the directed layers.

        ``mean=True`` returns E[v | h1] in the data layer (the upper layers are still drawn).
        """
        self._check_fitted()
        n = check_n(n)
        gen = torch_generator(self.rbms_[0].device_, seed)
        top = self.rbms_[-1]
        h = top.sample(n, gibbs_steps=gibbs_steps, burn_in=burn_in,
                       seed=int(torch.randint(0, 2**31, (1,), generator=gen)))
        h = torch.as_tensor(h, dtype=torch.float64, device=top.device_).reshape(n, -1)
        for i in range(len(self.rbms_) - 2, -1, -1):
            h = self.rbms_[i].energy().sample_visible(h, gen, mean=mean and i == 0)
        return h.cpu().numpy().reshape(n, *self.data_shape_)

    # -- the bound ------------------------------------------------------------------------
    @torch.no_grad()
    def lower_bound(self, X, *, n_samples: int = 10, method: str = "auto", seed=None,
                    **ais_options) -> np.ndarray:
        """Variational lower bound on log p(v) per row (nats); NOT the log-likelihood.

        Averages the bound's integrand over ``n_samples`` draws from the up-pass q; the top
        RBM's log Z comes from ``log_partition(method, ...)`` (exact or AIS, see
        :meth:`lower_bound_estimator`). For a one-layer DBN it equals the RBM's log p(v).
        """
        self._check_fitted()
        n_samples = check_n(n_samples, "n_samples")
        bottom, top = self.rbms_[0], self.rbms_[-1]
        v = bottom.visible_rows(X)
        gen = torch_generator(bottom.device_, 0 if seed is None else seed)
        log_z = top.log_partition(method, **ais_options).log_z
        energies = [rbm.energy() for rbm in self.rbms_]
        width = max(self.n_features_in_, *(e.n_hidden for e in energies))
        rows = max(1, int(4e6 // (n_samples * width)))
        out = []
        for start in range(0, v.shape[0], rows):
            below = v[start:start + rows].expand(n_samples, -1, -1)  # (S, B, D)
            acc = torch.zeros(below.shape[:2], dtype=torch.float64, device=v.device)
            for energy in energies[:-1]:
                logits = energy.hidden_logits(below)
                h = (torch.rand(logits.shape, generator=gen, device=logits.device,
                                dtype=logits.dtype) < torch.sigmoid(logits)).to(logits.dtype)
                log_q = -F.binary_cross_entropy_with_logits(logits, h, reduction="none").sum(-1)
                acc += energy.log_conditional_visible(below, h) - log_q
                below = h
            acc += -energies[-1].free_energy(below) - log_z
            out.append(acc.mean(0))
        return torch.cat(out).cpu().numpy()

    def lower_bound_estimator(self) -> str:
        self._check_fitted()
        return ("variational lower bound (factorial up-pass q); top RBM log Z: "
                + self.rbms_[-1].log_prob_estimator())

    def log_prob(self, X, *args, **kwargs):
        """Not available: a DBN's log-likelihood is intractable; see :meth:`lower_bound`."""
        raise TypeError("a DBN's log-likelihood is intractable: use lower_bound(X), a "
                        "variational lower bound on it, reported as such")

    def log_prob_estimator(self) -> str:
        return "none (intractable); lower_bound gives a variational lower bound"

    def evaluate(self, X, y=None) -> dict:
        """The held-out variational lower bound (named as such) and how it was computed."""
        bound = self.lower_bound(X)
        return {"lower_bound": float(np.mean(bound)), "estimator": self.lower_bound_estimator(),
                "n": int(len(bound))}

    # -- checkpoints ----------------------------------------------------------------------
    def _get_state(self):
        self._check_fitted()
        # the data description lives in the bottom RBM's state; the run's is the stack's
        meta = {"epochs_trained_": self.epochs_trained_, "history_": self.history_,
                "stop_reason_": self.stop_reason_, "rbms": []}
        tensors = {}
        for i, rbm in enumerate(self.rbms_):
            rbm_meta, rbm_tensors = rbm._get_state()
            meta["rbms"].append(rbm_meta)
            tensors.update({f"layer{i}.{k}": v for k, v in rbm_tensors.items()})
        return meta, tensors

    def _set_state(self, meta, tensors) -> None:
        if not 1 <= len(meta["rbms"]) <= len(self.layers):
            raise ValueError(f"checkpoint holds {len(meta['rbms'])} layers; the config says "
                             f"{len(self.layers)}")
        self.rbms_ = []
        for i, rbm_meta in enumerate(meta["rbms"]):
            rbm = self._layer_model(i)
            rbm._set_state(rbm_meta, strip_prefix(tensors, f"layer{i}."))
            self.rbms_.append(rbm)
        self._describe_data()
        self.epochs_trained_ = int(meta["epochs_trained_"])
        self.history_ = list(meta["history_"])
        self.stop_reason_ = meta.get("stop_reason_")
