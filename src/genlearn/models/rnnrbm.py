"""The RNN-RBM (Boulanger-Lewandowski, Bengio & Vincent 2012) and the RNN-NADE of the same paper.

    p(v_1..T) = prod_t p_RBM(v_t; b_t, c_t),   b_t = b + B u_{t-1},  c_t = c + C u_{t-1},
    u_t = RNN(u_{t-1}, v_t)

An RBM per time step whose visible and hidden biases an RNN sets from the past frames (the
seed's Boltzmann family applied to polyphony). Differences from the paper, and why: the RNN is
an LSTM by default (``cell="tanh"`` gives the paper's), and with a small hidden layer
(``hidden <= 16``) training follows the exact gradient of log p(v_t | u_{t-1}) -- log Z_t by
enumerating the 2^hidden hidden states per frame, which on two CPU cores is cheaper than the
paper's CD-25 and has no bias -- and samples are exact (h from its marginal, then v | h). A
larger hidden layer trains by CD-k (``cd_k``, the paper's estimator, which also
back-propagates the CD gradient through the RNN) and its ``log_prob`` uses annealed importance
sampling per frame; :meth:`log_prob_estimator` says which.

The RNN-NADE replaces the RBM by a NADE over the keys (exact likelihood, no partition function).
"""

from __future__ import annotations

from ..registry import register
from .frame_rnn import FrameRNN


@register("rnnrbm")
class RNNRBM(FrameRNN):
    """RNN-RBM over piano-roll frames; ``hidden`` RBM hidden units per time step."""

    default_output = "rbm"

    def __init__(self, units=150, layers=1, cell="lstm", hidden=8, epochs=30, batch_size=16,
                 lr=1e-3, dropout=0.0, clip=1.0, patience=None, cd_k=0, ais_chains=64,
                 ais_betas=1000, gibbs_steps=25, max_time=None, threads=None, seed=None,
                 device="cpu", verbose=False):
        self.ais_chains, self.ais_betas, self.gibbs_steps = ais_chains, ais_betas, gibbs_steps
        super().__init__(units=units, layers=layers, cell=cell, output=None, hidden=hidden,
                         epochs=epochs, batch_size=batch_size, lr=lr, dropout=dropout,
                         clip=clip, patience=patience, cd_k=cd_k, max_time=max_time,
                         threads=threads, seed=seed, device=device, verbose=verbose)

    def _validate_params(self) -> None:
        super()._validate_params()
        from .._utils import check_int
        from .frame_outputs import MAX_ENUM_HIDDEN

        check_int(self.ais_chains, "ais_chains", low=1)
        check_int(self.ais_betas, "ais_betas", low=2)
        check_int(self.gibbs_steps, "gibbs_steps", low=1)
        if self.hidden > MAX_ENUM_HIDDEN and not self.cd_k:
            raise ValueError(f"hidden={self.hidden} is too large to enumerate (at most "
                             f"{MAX_ENUM_HIDDEN}); set cd_k >= 1 to train by contrastive "
                             "divergence (the paper's CD-25: cd_k=25)")

    def _output_kwargs(self) -> dict:
        return {"ais_chains": self.ais_chains, "ais_betas": self.ais_betas,
                "gibbs_steps": self.gibbs_steps}


@register("rnnnade")
class RNNNADE(FrameRNN):
    """RNN-NADE over piano-roll frames; ``hidden`` NADE hidden units."""

    default_output = "nade"

    def __init__(self, units=150, layers=1, cell="lstm", hidden=150, epochs=30, batch_size=16,
                 lr=1e-3, dropout=0.0, clip=1.0, patience=None, max_time=None, threads=None,
                 seed=None, device="cpu", verbose=False):
        super().__init__(units=units, layers=layers, cell=cell, output=None, hidden=hidden,
                         epochs=epochs, batch_size=batch_size, lr=lr, dropout=dropout,
                         clip=clip, patience=patience, cd_k=0, max_time=max_time,
                         threads=threads, seed=seed, device=device, verbose=verbose)
