"""A decoder-only Transformer language model over integer symbols (GPT-2 style).

    log p(x) = sum_t log softmax(Transformer(BOS, x_<t))[x_t]   (+ the end symbol)

Pre-LayerNorm blocks of causal self-attention and an MLP (Radford et al. 2019), learned or
rotary positions (Su et al. 2021), tied input/output embeddings, a key/value cache for
sampling. The network is :class:`~genlearn.models.seq_nets.TransformerNet`; fitting, exact
``log_prob`` and sampling come from :class:`~genlearn.models.autoregressive.AutoregressiveModel`.

    model = gl.Transformer(n_layer=4, n_embd=128, block_size=128, epochs=5).fit(seqs)
    model.sample(3, 100, prompt=[5, 2], temperature=0.8, top_p=0.95, seed=0)
"""

from __future__ import annotations

from .._utils import check_choice, check_float, check_int
from ..registry import register
from .autoregressive import AutoregressiveModel
from .seq_nets import POSITIONS, TransformerConfig, TransformerNet


@register("transformer")
class Transformer(AutoregressiveModel):
    """Decoder-only Transformer; ``block_size`` is its attention window (and the training
    window). See :class:`AutoregressiveModel` for the training hyperparameters."""

    _CONTRACT_NET = dict(n_layer=1, n_head=2, n_embd=8)

    def __init__(self, n_layer=4, n_head=4, n_embd=128, dropout=0.0, positions="learned",
                 tie_weights=True, n_symbols=None, end_symbol=True, block_size=128, epochs=10,
                 batch_size=32, lr=1e-3, weight_decay=0.1, warmup=100, min_lr_ratio=0.1,
                 grad_clip=1.0, val_fraction=0.1, patience=3, max_time=None, clock="wall",
                 seed=None, device="auto", verbose=True, threads=None,
                 length_buckets=0):
        self.n_layer = n_layer
        self.n_head = n_head
        self.n_embd = n_embd
        self.dropout = dropout
        self.positions = positions
        self.tie_weights = tie_weights
        self.n_symbols = n_symbols
        self.end_symbol = end_symbol
        self.block_size = block_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.min_lr_ratio = min_lr_ratio
        self.grad_clip = grad_clip
        self.val_fraction = val_fraction
        self.patience = patience
        self.max_time = max_time
        self.clock = clock
        self.seed = seed
        self.device = device
        self.verbose = verbose
        self.threads = threads
        self.length_buckets = length_buckets

    def _validate_params(self) -> None:
        super()._validate_params()
        for name in ("n_layer", "n_head", "n_embd"):
            check_int(getattr(self, name), name, low=1)
        check_float(self.dropout, "dropout", low=0.0, high=1.0, high_open=True)
        check_choice(self.positions, "positions", tuple(POSITIONS))
        if not isinstance(self.tie_weights, bool):
            raise ValueError(f"tie_weights must be True or False; got {self.tie_weights!r}")
        self._net_config(2, 1).validate()  # n_embd / n_head divisibility, rotary head size

    def _net_config(self, vocab_in, vocab_out) -> TransformerConfig:
        return TransformerConfig(vocab_in=vocab_in, vocab_out=vocab_out,
                                 block_size=self.block_size, n_layer=self.n_layer,
                                 n_head=self.n_head, n_embd=self.n_embd, dropout=self.dropout,
                                 positions=self.positions, tie_weights=self.tie_weights)

    def _make_net(self, config: dict) -> TransformerNet:
        return TransformerNet(TransformerConfig(**config))
