"""The Transformer network: causality, the key/value cache, the window, tied embeddings."""

import numpy as np
import pytest
import torch

import genlearn as gl
from genlearn.models.seq_nets import TransformerConfig, TransformerNet


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def net(positions="learned", **kw):
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_in=7, vocab_out=6, block_size=12, n_layer=2, n_head=2,
                            n_embd=16, positions=positions, **kw)
    return TransformerNet(cfg).eval()


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_causal(positions):
    """Changing token t never changes the predictions at positions < t (which read <= t-1)."""
    model = net(positions)
    x = torch.randint(0, 7, (3, 10), generator=torch.Generator().manual_seed(1))
    base, _ = model(x)
    for t in range(10):
        y = x.clone()
        y[:, t] = (y[:, t] + 1) % 7
        out, _ = model(y)
        torch.testing.assert_close(out[:, :t], base[:, :t], rtol=0, atol=1e-6)
        assert not torch.allclose(out[:, t], base[:, t])  # position t reads token t


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_cache_equals_full_pass(positions):
    model = net(positions)
    x = torch.randint(0, 7, (2, 12), generator=torch.Generator().manual_seed(2))
    full, _ = model(x)
    out, state = model(x[:, :5])  # a prompt of 5, then one token at a time, then a chunk of 3
    parts = [out]
    for t in range(5, 9):
        out, state = model(x[:, t:t + 1], state)
        parts.append(out)
    out, state = model(x[:, 9:12], state)
    parts.append(out)
    torch.testing.assert_close(torch.cat(parts, 1), full, rtol=1e-5, atol=1e-5)
    assert state[0] == 12


def test_window_is_a_clear_error_in_the_network():
    model = net()
    with pytest.raises(ValueError, match="longer than the window of 12"):
        model(torch.zeros(1, 13, dtype=torch.int64))
    _, state = model(torch.zeros(1, 12, dtype=torch.int64))
    with pytest.raises(ValueError, match="window"):
        model(torch.zeros(1, 1, dtype=torch.int64), state)


def test_tied_embeddings_share_the_matrix():
    tied, untied = net(), net(tie_weights=False)
    n_tied = sum(p.numel() for p in tied.parameters())
    n_untied = sum(p.numel() for p in untied.parameters())
    assert n_untied - n_tied == 6 * 16  # the output matrix
    x = torch.randint(0, 7, (1, 4))
    logits, _ = tied(x)
    with torch.no_grad():
        tied.wte.weight[2] += 1.0  # the output row of symbol 2 is the input row
    assert not torch.allclose(tied(x)[0][..., 2], logits[..., 2])


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="positions"):
        gl.Transformer(positions="sinusoid").fit([np.array([0, 1])])
    with pytest.raises(ValueError, match="even head size"):
        gl.Transformer(n_embd=6, n_head=2, positions="rotary").fit([np.array([0, 1])])
    with pytest.raises(ValueError, match="dropout"):
        gl.Transformer(dropout=1.0).fit([np.array([0, 1])])


def test_long_prompt_slides_the_window():
    """A prompt longer than the window is read through the sliding window (documented)."""
    model = gl.Transformer(n_layer=1, n_head=1, n_embd=8, block_size=4, epochs=1,
                           verbose=False, seed=0, device="cpu").fit([np.arange(3)] * 4)
    prompt = [0, 1, 2] * 5
    a = model.sample(2, 6, prompt=prompt, seed=0)
    assert len(a) == 2 and all(len(d) <= 6 for d in a)
    lp = model.next_log_proba(prompt)
    np.testing.assert_allclose(np.exp(lp).sum(), 1.0, atol=1e-9)
    # the next prediction sees the window rule's context: BOS + 15 symbols are tokens 0..15;
    # token 16 is predicted from the window of 4 that starts at a multiple of the stride 2
    # and holds it: tokens 12..15
    row = np.concatenate(([model._bos], prompt))
    with torch.no_grad():
        logits, _ = model.net_.eval()(torch.as_tensor(row[None, 12:]))
    np.testing.assert_allclose(lp, torch.log_softmax(logits[0, -1].double(), -1).numpy(),
                               atol=1e-6)
    # greedy decoding slides the window while it generates (cached, and the window moves
    # every 2 tokens) and takes each conditional's argmax as next_log_proba gives it
    ctx = list(prompt)
    for sym in model.sample(1, 8, prompt=prompt, top_k=1, seed=0)[0]:
        assert sym == int(np.argmax(model.next_log_proba(ctx)))
        ctx.append(int(sym))
