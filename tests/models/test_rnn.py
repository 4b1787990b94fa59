"""The recurrent network: causality, the hidden state as a cache, LSTM and GRU."""

import numpy as np
import pytest
import torch

import genlearn as gl
from genlearn.models.seq_nets import RNNConfig, RNNNet


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_causal_and_state_carries_context(cell):
    torch.manual_seed(0)
    model = RNNNet(RNNConfig(vocab_in=6, vocab_out=5, cell=cell, n_layer=2, hidden=8,
                             n_embd=8)).eval()
    x = torch.randint(0, 6, (2, 9), generator=torch.Generator().manual_seed(1))
    base, _ = model(x)
    for t in range(9):
        y = x.clone()
        y[:, t] = (y[:, t] + 1) % 6
        torch.testing.assert_close(model(y)[0][:, :t], base[:, :t], rtol=0, atol=1e-6)
    out, state = model(x[:, :4])
    rest = [model(x[:, t:t + 1], state) for t in range(4, 5)]
    out2, state = rest[0]
    out3, _ = model(x[:, 5:], state)
    torch.testing.assert_close(torch.cat([out, out2, out3], 1), base, rtol=1e-5, atol=1e-5)


def test_gru_model_and_untied_head():
    data = [np.array([0, 1, 2, 1]), np.array([2, 2, 0])] * 5
    model = gl.RNN(cell="gru", hidden=8, n_embd=4, tie_weights=False, epochs=2, seed=0,
                   verbose=False, device="cpu").fit(data)
    assert model.config_["cell"] == "gru" and model.config_["n_embd"] == 4
    assert model.log_prob(data).shape == (10,)
    assert np.all(np.isfinite(model.log_prob(data)))


def test_no_window_for_long_context():
    model = gl.RNN(hidden=8, n_layer=1, block_size=4, epochs=1, seed=0, verbose=False,
                   device="cpu").fit([np.arange(3)] * 4)
    assert model.net_.window is None
    lp = model.log_prob([np.array([0, 1, 2] * 20)])  # 60 symbols through a block_size of 4
    assert np.isfinite(lp[0])


def test_bad_cell():
    with pytest.raises(ValueError, match="cell"):
        gl.RNN(cell="elman").fit([np.array([0, 1])])
