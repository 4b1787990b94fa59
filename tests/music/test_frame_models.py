"""Frame-level sequence models: the RNN-RBM, RNN-NADE, LSTM and the baselines, checked against
brute-force enumeration on tiny key sets (every frame, every sequence, every hidden state)."""

import itertools

import numpy as np
import pytest
import torch

import genlearn as gl
from genlearn.models.frame_baselines import ChordHMM, KeyBernoulli
from genlearn.models.frame_outputs import OUTPUTS, RBMOutput

D = 4


def _all_frames(d=D):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=d)))


def _pieces(n=6, T=7, d=D, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random((T + i % 3, d)) < 0.4).astype(np.uint8) for i in range(n)]


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_each_output_is_normalised_over_every_frame(name):
    torch.manual_seed(0)
    out = OUTPUTS[name](3, D, 5).double()
    u = torch.randn(2, 3, dtype=torch.float64)
    frames = _all_frames().double()
    lp = torch.stack([out.log_prob(u[i].expand(len(frames), 3), frames) for i in range(2)])
    np.testing.assert_allclose(torch.logsumexp(lp, 1).detach().numpy(), 0.0, atol=1e-10)


def test_rbm_output_log_z_matches_brute_force_over_visible_and_hidden():
    torch.manual_seed(1)
    out = RBMOutput(2, D, 3).double()
    with torch.no_grad():
        out.W.normal_(0, 1.0)
    u = torch.randn(1, 2, dtype=torch.float64)
    b, c = out.biases(u)
    terms = []
    for v in _all_frames():
        for h in _all_frames(3):
            v, h = v.double(), h.double()
            terms.append(float((b[0] @ v + c[0] @ h + h @ out.W @ v).detach()))
    brute = np.log(np.sum(np.exp(terms)))
    assert float(out.log_z(b, c)[0]) == pytest.approx(brute, abs=1e-10)
    ais = float(out._ais_log_z(b, c)[0])  # 64 chains x 1000 temperatures
    assert ais == pytest.approx(brute, abs=0.05)


@pytest.mark.parametrize("cls", [gl.models.RNNRBM, gl.models.RNNNADE, gl.models.FrameRNN])
def test_whole_model_sums_to_one_over_every_two_step_piece(cls):
    m = cls(units=6, hidden=3, epochs=2, batch_size=3, seed=0).fit(_pieces())
    pieces = [np.array(p, dtype=np.uint8).reshape(2, D)
              for p in itertools.product([0, 1], repeat=2 * D)]
    lp = m.log_prob(pieces)
    assert np.logaddexp.reduce(lp) == pytest.approx(0.0, abs=1e-5)
    steps = m.log_prob_steps(pieces[:3])
    np.testing.assert_allclose([s.sum() for s in steps], lp[:3], rtol=1e-6)


def test_training_lowers_the_nll_and_save_load_keeps_it(tmp_path):
    data = [np.tile(np.eye(D, dtype=np.uint8), (3, 1)) for _ in range(4)]  # a scale, repeated
    m = gl.models.RNNRBM(units=16, hidden=4, epochs=1, lr=0.01, batch_size=2, seed=0)
    before = m.fit(data).nll_per_step(data)
    m.set_params(epochs=25).fit(data, resume=True)
    after = m.nll_per_step(data)
    assert after < before - 1.0
    m.save(tmp_path / "run")
    back = gl.load(tmp_path / "run")
    np.testing.assert_allclose(back.log_prob(data), m.log_prob(data), rtol=1e-6)
    assert "exact" in back.log_prob_estimator()
    cont = back.sample(2, 4, seed=0, prompt=data[0][:2])
    assert cont[0].shape == (4, D) and set(np.unique(cont[0])) <= {0, 1}
    assert (cont[0][:2] == data[0][2:4]).mean() > 0.7  # it learned the scale


def test_keys_outside_the_training_range_are_unlikely_not_impossible():
    train = [np.pad(p[:, :2], ((0, 0), (1, 1))) for p in _pieces()]  # keys 1..2 only
    m = gl.models.FrameRNN(units=4, epochs=1, seed=0).fit(train)
    assert m.key_range_ == (1, 3)
    odd = train[0].copy()
    odd[0, 0] = 1
    assert np.isfinite(m.log_prob([odd])[0]) and m.log_prob([odd])[0] < m.log_prob([train[0]])[0]


def test_bad_inputs_and_params():
    with pytest.raises(ValueError, match="hidden=20 is too large"):
        gl.models.RNNRBM(hidden=20)
    with pytest.raises(ValueError, match="cell"):
        gl.models.FrameRNN(cell="transformer")
    m = gl.models.FrameRNN(units=4, epochs=1, seed=0).fit(_pieces())
    with pytest.raises(ValueError, match="has 5 keys; expected 4"):
        m.log_prob([np.zeros((3, 5))])
    with pytest.raises(ValueError, match="only 0 and 1"):
        m.log_prob([np.full((3, D), 2)])


def test_baselines_are_normalised_and_key_bernoulli_matches_counts():
    data = _pieces()
    kb = KeyBernoulli(alpha=0.5).fit(data)
    frames = np.concatenate(data)
    np.testing.assert_allclose(kb.p_, (frames.sum(0) + 0.5) / (len(frames) + 1))
    allf = _all_frames().numpy().astype(np.uint8)
    assert np.logaddexp.reduce(kb.log_prob([f[None] for f in allf])) == pytest.approx(0, abs=1e-9)
    hmm = ChordHMM(n_states=2, n_iter=50).fit(data)
    two = [np.array(p, dtype=np.uint8).reshape(2, D) for p in itertools.product([0, 1], repeat=8)]
    assert np.logaddexp.reduce(hmm.log_prob(two)) == pytest.approx(0.0, abs=1e-6)
    steps = hmm.log_prob_steps(data[:2])
    np.testing.assert_allclose([s.sum() for s in steps], hmm.log_prob(data[:2]))
    s = hmm.sample(2, 5, seed=0, prompt=data[0])
    assert s[0].shape == (5, D)


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_tempered_draws_follow_the_tempered_distribution_of_every_frame(name):
    # exact p_T(v) by enumeration: logits / T (Bernoulli, each NADE conditional) or E / T (RBM)
    torch.manual_seed(3)
    T = 0.5
    out = OUTPUTS[name](3, D, 3).double()
    with torch.no_grad():
        for p in out.parameters():
            p.normal_(0, 0.8)
    u = torch.randn(1, 3, dtype=torch.float64)
    frames = _all_frames().double()
    uu = u.expand(len(frames), 3)
    with torch.no_grad():
        if name == "rbm":
            b, c = out.biases(uu)
            b, c, W = b / T, c / T, out.W / T
            logf = (frames * b).sum(-1) + torch.nn.functional.softplus(c + frames @ W.T).sum(-1)
        else:
            # log p_T(v) = sum_i log sigmoid(+-logit_i / T), logit_i = log P(v_<i, 1) -
            # log P(v_<i, 0) from prefix marginals of the exact log_prob (keys in order)
            lp = out.log_prob(uu, frames)
            logf = torch.zeros(len(frames), dtype=torch.float64)
            for i in range(D):
                def prefix(v, i=i):
                    match = (frames[:, :i + 1] == v[:i + 1]).all(1)
                    return torch.logsumexp(lp[match], 0)
                for k, v in enumerate(frames):
                    one, zero = v.clone(), v.clone()
                    one[i], zero[i] = 1, 0
                    logit = prefix(one) - prefix(zero)
                    logf[k] += -torch.nn.functional.binary_cross_entropy_with_logits(
                        logit / T, v[i])
        p_exact = torch.softmax(logf, 0).numpy()
        gen = torch.Generator().manual_seed(0)
        n = 40_000
        draws = out.sample(u.expand(n, 3), gen, temperature=T).numpy().astype(int)
    codes = draws @ (1 << np.arange(D))[::-1]
    freq = np.bincount(codes, minlength=len(frames)) / n
    assert np.abs(freq - p_exact).max() < 4 * np.sqrt(0.25 / n)  # 4 sd of a share
    assert np.abs(p_exact - torch.softmax(logf * T, 0).numpy()).max() > 0.02  # T mattered
