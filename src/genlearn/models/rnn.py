"""A recurrent (LSTM or GRU) language model over integer symbols (char-rnn, MOSES's CharRNN).

    h_t = Cell(h_{t-1}, embed(x_{t-1})),  p(x_t | x_<t) = softmax(W h_t + b)[x_t]

with x_0 the begin symbol and, when the model has one, an end symbol predicted after the last
symbol. Several stacked layers with dropout between them; the hidden state is the sampling
cache and carries any length of context (no window). The network is
:class:`~genlearn.models.seq_nets.RNNNet`; fitting, exact ``log_prob`` and sampling come from
:class:`~genlearn.models.autoregressive.AutoregressiveModel`. Training reads windows of
``block_size`` tokens (truncated back-propagation through time), each from a fresh state.

    model = gl.RNN(cell="lstm", n_layer=3, hidden=768, epochs=10).fit(smiles_ids)
"""

from __future__ import annotations

from .._utils import check_choice, check_float, check_int
from ..registry import register
from .autoregressive import AutoregressiveModel
from .seq_nets import RNNConfig, RNNNet


@register("rnn")
class RNN(AutoregressiveModel):
    """LSTM/GRU language model; ``tie_weights`` applies when ``n_embd == hidden`` (default
    ``n_embd=None`` means ``hidden``). See :class:`AutoregressiveModel` for training."""

    _CONTRACT_NET = dict(n_layer=1, hidden=8)

    def __init__(self, cell="lstm", n_layer=2, hidden=256, n_embd=None, dropout=0.0,
                 tie_weights=True, n_symbols=None, end_symbol=True, block_size=128, epochs=10,
                 batch_size=32, lr=3e-3, weight_decay=0.0, warmup=50, min_lr_ratio=0.1,
                 grad_clip=1.0, val_fraction=0.1, patience=3, max_time=None, clock="wall",
                 seed=None, device="auto", verbose=True, threads=None,
                 length_buckets=0):
        self.cell = cell
        self.n_layer = n_layer
        self.hidden = hidden
        self.n_embd = n_embd
        self.dropout = dropout
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
        check_choice(self.cell, "cell", ("lstm", "gru"))
        check_int(self.n_layer, "n_layer", low=1)
        check_int(self.hidden, "hidden", low=1)
        check_int(self.n_embd, "n_embd", low=1, allow_none=True)
        check_float(self.dropout, "dropout", low=0.0, high=1.0, high_open=True)
        if not isinstance(self.tie_weights, bool):
            raise ValueError(f"tie_weights must be True or False; got {self.tie_weights!r}")
        self._net_config(2, 1).validate()

    def _net_config(self, vocab_in, vocab_out) -> RNNConfig:
        return RNNConfig(vocab_in=vocab_in, vocab_out=vocab_out, cell=self.cell,
                         n_layer=self.n_layer, hidden=self.hidden,
                         n_embd=self.hidden if self.n_embd is None else self.n_embd,
                         dropout=self.dropout, tie_weights=self.tie_weights)

    def _make_net(self, config: dict) -> RNNNet:
        return RNNNet(RNNConfig(**config))
