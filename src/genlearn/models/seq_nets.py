"""The networks behind the autoregressive models: a decoder-only Transformer and an LSTM/GRU.

Each network maps input tokens to next-token logits and carries a *state* so that sampling
runs one token at a time: ``net(idx, state=None) -> (logits, state)`` with ``idx`` (B, T) int64
and ``logits`` (B, T, V_out). The state is a key/value cache per layer for the Transformer and
the hidden (and cell) state for the RNN; ``state=None`` starts a fresh context. Feeding a
context in one call or token by token through the state gives the same logits (tested).

The shape of each network is one small config dataclass (nanoGPT's ``GPTConfig``), stored in
the checkpoint so the network can be rebuilt from the file alone. The input vocabulary has one
more row than the output (the begin symbol is read, never predicted); with ``tie_weights`` the
output layer reuses the first ``V_out`` rows of the input embedding (Press & Wolf 2017).

Transformer: pre-LayerNorm blocks (Radford et al. 2019, GPT-2), causal self-attention through
``torch.nn.functional.scaled_dot_product_attention``, learned absolute positions or rotary
position embeddings (Su et al. 2021, RoFormer) as strategy classes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .._utils import check_choice, check_float, check_int


@dataclass
class TransformerConfig:
    """Shape of a decoder-only Transformer."""

    vocab_in: int  # input symbols (the output's plus the begin symbol)
    vocab_out: int  # predicted symbols
    block_size: int = 256  # the most tokens one forward pass attends over
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    positions: str = "learned"  # "learned" or "rotary"
    tie_weights: bool = True

    def validate(self) -> None:
        for name in ("vocab_in", "vocab_out", "block_size", "n_layer", "n_head", "n_embd"):
            check_int(getattr(self, name), name, low=1)
        check_float(self.dropout, "dropout", low=0.0, high=1.0, high_open=True)
        check_choice(self.positions, "positions", tuple(POSITIONS))
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.positions == "rotary" and (self.n_embd // self.n_head) % 2:
            raise ValueError(f"rotary positions need an even head size; n_embd / n_head = "
                             f"{self.n_embd // self.n_head}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RNNConfig:
    """Shape of a multi-layer LSTM or GRU language model."""

    vocab_in: int
    vocab_out: int
    cell: str = "lstm"  # "lstm" or "gru"
    n_layer: int = 2
    hidden: int = 256
    n_embd: int = 256
    dropout: float = 0.0
    tie_weights: bool = True  # only where n_embd == hidden

    def validate(self) -> None:
        for name in ("vocab_in", "vocab_out", "n_layer", "hidden", "n_embd"):
            check_int(getattr(self, name), name, low=1)
        check_float(self.dropout, "dropout", low=0.0, high=1.0, high_open=True)
        check_choice(self.cell, "cell", ("lstm", "gru"))
        if self.tie_weights and self.n_embd != self.hidden:
            raise ValueError(f"tie_weights needs n_embd == hidden; got n_embd={self.n_embd}, "
                             f"hidden={self.hidden}")

    def to_dict(self) -> dict:
        return asdict(self)


# -- positions: strategy classes ---------------------------------------------------------------
class LearnedPositions(nn.Module):
    """A learned vector per position, added to the token embedding (GPT-2)."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)

    def embed(self, pos: torch.Tensor) -> torch.Tensor:  # (T,) -> (T, C)
        return self.wpe(pos)

    def rotate(self, q, k, pos):  # queries and keys unchanged
        return q, k


class RotaryPositions(nn.Module):
    """Rotary embeddings: pairs of query/key channels rotated by position-dependent angles, so
    attention scores depend on relative offsets (RoFormer, Su et al. 2021)."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        head = cfg.n_embd // cfg.n_head
        inv = 1.0 / (10000.0 ** (torch.arange(0, head, 2, dtype=torch.float64) / head))
        self.register_buffer("inv_freq", inv.float(), persistent=False)

    def embed(self, pos):
        return None

    def rotate(self, q, k, pos):  # q, k (B, H, T, D); pos (T,)
        ang = pos.to(self.inv_freq.dtype)[:, None] * self.inv_freq[None, :]  # (T, D/2)
        cos, sin = ang.cos().to(q.dtype), ang.sin().to(q.dtype)

        def rot(x):
            x1, x2 = x[..., 0::2], x[..., 1::2]
            return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)

        return rot(q), rot(k)


POSITIONS = {"learned": LearnedPositions, "rotary": RotaryPositions}


# -- the Transformer ---------------------------------------------------------------------------
class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x, pos, positions, cache=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
                   for t in (q, k, v))  # (B, H, T, D)
        q, k = positions.rotate(q, k, pos)
        if cache is not None:  # keys/values of the earlier tokens, (B, H, L, D)
            k = torch.cat((cache[0], k), dim=2)
            v = torch.cat((cache[1], v), dim=2)
        L = k.shape[2]
        drop = self.dropout if self.training else 0.0
        if T == 1:  # one new query sees every key: no mask
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)
        elif L == T:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=True)
        else:  # T new queries at positions L-T..L-1 see every cached key and the causal part
            mask = torch.ones(T, L, dtype=torch.bool, device=x.device).tril(L - T)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_drop(self.proj(y)), (k, v)


class Block(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd), nn.Dropout(cfg.dropout))

    def forward(self, x, pos, positions, cache=None):
        a, cache = self.attn(self.ln1(x), pos, positions, cache)
        x = x + a
        return x + self.mlp(self.ln2(x)), cache


class TransformerNet(nn.Module):
    """Decoder-only Transformer; the state is ``(offset, [(k, v) per layer])``."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.window = cfg.block_size
        self.wte = nn.Embedding(cfg.vocab_in, cfg.n_embd)
        self.positions = POSITIONS[cfg.positions](cfg)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = None if cfg.tie_weights else nn.Linear(cfg.n_embd, cfg.vocab_out, bias=False)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2: scale the residual projections
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, idx, state=None):
        B, T = idx.shape
        offset, caches = (0, [None] * len(self.blocks)) if state is None else state
        if offset + T > self.window:
            raise ValueError(f"a context of {offset + T} tokens is longer than the window of "
                             f"{self.window} (block_size)")
        pos = torch.arange(offset, offset + T, device=idx.device)  # (T,)
        x = self.wte(idx)  # (B, T, C)
        pe = self.positions.embed(pos)
        if pe is not None:
            x = x + pe
        x = self.drop(x)
        new = []
        for block, cache in zip(self.blocks, caches, strict=True):
            x, kv = block(x, pos, self.positions, cache)
            new.append(kv)
        x = self.ln_f(x)
        if self.head is None:
            logits = x @ self.wte.weight[: self.cfg.vocab_out].T  # (B, T, V_out)
        else:
            logits = self.head(x)
        return logits, (offset + T, new)


# -- the RNN -----------------------------------------------------------------------------------
class RNNNet(nn.Module):
    """Embedding -> multi-layer LSTM/GRU -> linear; the state is torch's hidden state."""

    def __init__(self, cfg: RNNConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.window = None  # the hidden state carries any length of context
        self.wte = nn.Embedding(cfg.vocab_in, cfg.n_embd)
        rnn = nn.LSTM if cfg.cell == "lstm" else nn.GRU
        self.rnn = rnn(cfg.n_embd, cfg.hidden, num_layers=cfg.n_layer, batch_first=True,
                       dropout=cfg.dropout if cfg.n_layer > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = None if cfg.tie_weights else nn.Linear(cfg.hidden, cfg.vocab_out)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_out)) if cfg.tie_weights else None
        nn.init.normal_(self.wte.weight, 0.0, 0.05)

    def forward(self, idx, state=None):
        x = self.drop(self.wte(idx))  # (B, T, E)
        y, state = self.rnn(x, state)  # (B, T, H)
        y = self.drop(y)
        if self.head is None:
            logits = y @ self.wte.weight[: self.cfg.vocab_out].T + self.bias
        else:
            logits = self.head(y)
        return logits, state
