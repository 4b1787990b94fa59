"""The networks of the sequence VAE (:mod:`genlearn.models.seq_vae`), kept apart from the model.

Symbols are 0..V-1; the embedding also holds EOS (V, only ever a target), BOS (V + 1, the first
decoder input) and MASK (V + 2, the word-dropout stand-in of Bowman et al. 2016).

* encoder: embedding -> bidirectional GRU over x_1..x_T (packed, so padding is never read) ->
  the two final states -> linear heads for the mean and log-variance of q(z | x);
* decoder: h_0 = tanh(W z); GRU over [embed(x_{t-1}); z] (z fed at every step, as in MOSES's
  VAE) -> logits over the V symbols and EOS.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


@dataclass
class SeqVAEConfig:
    n_symbols: int  # V
    latent_dim: int = 32
    n_embd: int = 64
    enc_hidden: int = 256
    hidden: int = 256  # decoder
    n_layer: int = 1  # decoder layers

    def validate(self) -> None:
        for name in ("n_symbols", "latent_dim", "n_embd", "enc_hidden", "hidden", "n_layer"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer; got {v!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class SeqVAENet(nn.Module):
    def __init__(self, cfg: SeqVAEConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        V = cfg.n_symbols
        self.eos, self.bos, self.mask = V, V + 1, V + 2
        self.embed = nn.Embedding(V + 3, cfg.n_embd)
        self.encoder = nn.GRU(cfg.n_embd, cfg.enc_hidden, batch_first=True, bidirectional=True)
        self.to_mean = nn.Linear(2 * cfg.enc_hidden, cfg.latent_dim)
        self.to_log_var = nn.Linear(2 * cfg.enc_hidden, cfg.latent_dim)
        self.to_h0 = nn.Linear(cfg.latent_dim, cfg.hidden * cfg.n_layer)
        self.decoder = nn.GRU(cfg.n_embd + cfg.latent_dim, cfg.hidden, num_layers=cfg.n_layer,
                              batch_first=True)
        self.head = nn.Linear(cfg.hidden, V + 1)

    def encode(self, tokens: torch.Tensor, lengths: torch.Tensor):
        """tokens (B, T) symbols (padding ignored), lengths (B,) -> mean, log_var (B, L)."""
        packed = pack_padded_sequence(self.embed(tokens), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        _, h = self.encoder(packed)  # (2, B, H): forward and backward final states
        h = torch.cat([h[0], h[1]], dim=-1)  # (B, 2H)
        # the posterior variance kept within [e^-10, e^4]: a guard against the runaway codes
        # (KL of hundreds of nats) seen once in a MOSES run
        return self.to_mean(h), self.to_log_var(h).clamp(-10.0, 4.0)

    def initial_state(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, L) -> the decoder's h_0 (n_layer, B, hidden)."""
        B = z.shape[0]
        h = torch.tanh(self.to_h0(z)).reshape(B, self.cfg.n_layer, self.cfg.hidden)
        return h.transpose(0, 1).contiguous()

    def decode(self, z: torch.Tensor, inputs: torch.Tensor, state=None):
        """z (B, L), decoder inputs (B, T) (BOS first) -> logits (B, T, V + 1), state."""
        if state is None:
            state = self.initial_state(z)
        x = self.embed(inputs)  # (B, T, E)
        x = torch.cat([x, z[:, None, :].expand(-1, x.shape[1], -1)], dim=-1)
        y, state = self.decoder(x, state)  # (B, T, hidden)
        logits = self.head(y)
        # a sequence has at least one symbol: EOS cannot follow BOS (so p sums to 1 over the
        # sequences the model accepts, and a draw is never empty)
        first = (inputs == self.bos)[..., None] & (torch.arange(logits.shape[-1],
                                                                device=logits.device) == self.eos)
        return logits.masked_fill(first, float("-inf")), state

    def log_lik(self, z: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        """log p(x | z) (B,): the sum of the log conditionals of ``targets`` (B, T) where
        ``mask`` (B, T) is true (teacher forcing on ``inputs``)."""
        logits, _ = self.decode(z, inputs)
        lp = torch.log_softmax(logits.float(), -1).gather(-1, targets[..., None])[..., 0]
        return (lp * mask).sum(-1)
