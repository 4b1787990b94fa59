"""Event tokens: a lossless encoding, and per-frame log-probs that add up to the token model's."""

import numpy as np

import genlearn as gl
from genlearn.music.tokens import TokenFrameModel, roll_to_tokens, tokens_to_roll


def _rolls(n=4, d=6):
    rng = np.random.default_rng(0)
    return [(rng.random((5 + i, d)) < 0.3).astype(np.uint8) for i in range(n)]


def test_tokens_round_trip_and_layout():
    r = np.zeros((3, 6), np.uint8)
    r[0, [4, 1]] = 1
    r[2, 5] = 1
    assert roll_to_tokens(r).tolist() == [1, 4, 6, 6, 5, 6]
    for roll in _rolls():
        np.testing.assert_array_equal(tokens_to_roll(roll_to_tokens(roll), 6), roll)
    assert tokens_to_roll([1, 6, 2], 6, length=4).sum(1).tolist() == [1, 1, 0, 0]


def test_token_frame_model_steps_sum_to_the_sequence_log_prob():
    rolls = _rolls()
    tm = gl.Transformer(n_layer=1, n_head=1, n_embd=8, block_size=16, epochs=1, batch_size=4,
                        n_symbols=7, end_symbol=False, seed=0, device="cpu", verbose=False)
    m = TokenFrameModel.fit(tm, rolls)
    steps = m.log_prob_steps(rolls[:2])
    whole = tm.log_prob([roll_to_tokens(r) for r in rolls[:2]])
    np.testing.assert_allclose([s.sum() for s in steps], whole, rtol=1e-6)
    assert [len(s) for s in steps] == [5, 6]
    out = m.sample(2, 4, seed=0, prompt=rolls[0])
    assert all(o.shape == (4, 6) for o in out)


def test_a_piece_longer_than_the_transformer_context_slides_the_window():
    # 16-token window; the opening below is ~150 tokens: continuing it and scoring it use the
    # sliding window of models/autoregressive.py (no error, no silent truncation of the output)
    rolls = _rolls()
    tm = gl.Transformer(n_layer=1, n_head=1, n_embd=8, block_size=16, epochs=1, batch_size=4,
                        n_symbols=7, end_symbol=False, seed=0, device="cpu", verbose=False)
    m = TokenFrameModel.fit(tm, rolls)
    long = (np.random.default_rng(1).random((60, 6)) < 0.3).astype(np.uint8)
    assert len(roll_to_tokens(long)) > 8 * tm.block_size
    steps = m.log_prob_steps([long])[0]
    assert steps.shape == (60,) and np.isfinite(steps).all()
    np.testing.assert_allclose(steps.sum(), tm.log_prob([roll_to_tokens(long)])[0], rtol=1e-6)
    out = m.sample(2, 5, seed=0, prompt=long)
    assert all(o.shape == (5, 6) and set(np.unique(o)) <= {0, 1} for o in out)
