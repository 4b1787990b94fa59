"""One contract suite over every registered model (as scikit-learn's parametrize_with_checks).

A model gets these tests by registering: each check runs on the tiny settings its class returns
from ``_contract_example()`` (see :meth:`genlearn.base.GenerativeModel._contract_example`):
``{"params": ..., "X": ..., "y": ... (conditional models), "sample": {...} (extra sample
keywords)}``. ``FALLBACK`` below holds the examples of the models that do not define the hook
yet; an owner who adds ``_contract_example`` to the class can delete the entry. A registered
model with neither is skipped with a message that says what to add (``pytest -rs``).

What is checked, for every model: the capability attributes; ``fit`` returns ``self``;
``NotFittedError`` (genlearn's, a subclass of scikit-learn's) before ``fit``; ``sample`` shape
and seeding (same seed, same draws; another seed, other draws); ``log_prob`` shape, or
``TypeError`` without a likelihood; ``score == mean(log_prob)``; save/load giving the same
parameters, ``log_prob`` and samples; ``sklearn.base.clone``; and for the capabilities that
apply: conditional fit/sample, the per-epoch callback, resume.
"""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.exceptions
from sklearn.base import clone

import genlearn as gl
from genlearn import registry
from genlearn.base import check_capabilities


def _rows(n=48, d=8, seed=0):
    return (np.random.default_rng(seed).random((n, d)) < 0.4).astype(np.float64)


def _seqs(n=12, v=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, v, size=int(rng.integers(5, 9))) for _ in range(n)]


FALLBACK = {
    "rbm": lambda: {"params": dict(n_hidden=4, epochs=2, batch_size=16, verbose=False,
                                   device="cpu"),
                    "X": _rows(), "sample": {"burn_in": 10, "gibbs_steps": 2}},
    "dbn": lambda: {"params": dict(layers=(4, 3), epochs=2, batch_size=16, verbose=False,
                                   device="cpu"),
                    "X": _rows(), "sample": {"burn_in": 10, "gibbs_steps": 2}},
    "hmm": lambda: {"params": dict(n_states=2, n_iter=3, verbose=False, device="cpu"),
                    "X": _seqs(), "sample": {"length": 6}},
    "ngram": lambda: {"params": dict(order=2, verbose=False), "X": _seqs(),
                      "sample": {"length": 6}},
}

NAMES = registry.names()


def example(name: str) -> dict:
    cls = registry.get(name)
    try:
        ex = cls._contract_example()
    except NotImplementedError as exc:
        if name not in FALLBACK:
            # registered without the hook: listed as skipped (pytest -rs) until it has one
            pytest.skip(str(exc))
        ex = FALLBACK[name]()
    return {"y": None, "sample": {}, **ex}


def make(name: str, **extra):
    ex = example(name)
    return registry.get(name)(**{**ex["params"], **extra}), ex


def fit_args(ex) -> tuple:
    return (ex["X"],) if ex["y"] is None else (ex["X"], ex["y"])


def eval_part(ex, k: int = 4) -> tuple:
    """The first k examples (and labels) to score."""
    X = ex["X"][:k]
    return (X,) if ex["y"] is None else (X, ex["y"][:k])


def draw(model, ex, n: int, seed):
    kw = dict(ex["sample"])
    if ex["y"] is not None:
        kw["y"] = ex["y"][:n]
    return model.sample(n, seed=seed, **kw)


def same(a, b) -> bool:
    if isinstance(a, list):
        return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    return np.array_equal(a, b)


@pytest.fixture(scope="module")
def fitted():
    """One fitted model per name, shared by the checks that only read it."""
    cache = {}

    def get(name):
        if name not in cache:
            model, ex = make(name)
            cache[name] = (model.fit(*fit_args(ex)), ex)
        return cache[name]

    return get


@pytest.mark.parametrize("name", NAMES)
def test_capabilities_are_declared(name):
    cls = registry.get(name)
    check_capabilities(cls)
    assert cls.input_kind in ("rows", "sequences")
    assert issubclass(cls, gl.GenerativeModel)


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_and_not_fitted_before(name):
    model, ex = make(name)
    with pytest.raises(sklearn.exceptions.NotFittedError):
        draw(model, ex, 2, seed=0)
    if model.has_likelihood:
        with pytest.raises(gl.NotFittedError):
            model.log_prob(*eval_part(ex))
    assert model.fit(*fit_args(ex)) is model


@pytest.mark.parametrize("name", NAMES)
def test_sample_shape_and_seeding(name, fitted):
    model, ex = fitted(name)
    a, b, c = draw(model, ex, 5, 0), draw(model, ex, 5, 0), draw(model, ex, 5, 1)
    assert same(a, b), "the same seed must give the same samples"
    assert not same(a, c), "another seed must give other samples"
    if model.input_kind == "rows":
        assert a.shape == (5, *model.data_shape_)
        assert np.all(np.isfinite(a))
    else:
        assert isinstance(a, list) and len(a) == 5
        # symbols (1-D) or frames (T, D): a piano roll's frames keep the training width
        assert all(s.ndim == 1 for s in a) or all(
            s.ndim == 2 and s.shape[1] == ex["X"][0].shape[1] for s in a)
        if "length" in ex["sample"]:
            assert all(len(s) == ex["sample"]["length"] for s in a)


@pytest.mark.parametrize("name", NAMES)
def test_log_prob_shape_or_type_error_and_score(name, fitted):
    model, ex = fitted(name)
    part = eval_part(ex)
    if not model.has_likelihood:
        with pytest.raises(TypeError):
            model.log_prob(*part)
        with pytest.raises(TypeError):
            model.score(*part)
        return
    lp = model.log_prob(*part)
    assert lp.shape == (len(part[0]),) and np.all(np.isfinite(lp))
    assert model.score(*part) == pytest.approx(float(np.mean(lp)), rel=1e-12, abs=1e-12)
    assert isinstance(model.log_prob_estimator(), str)


@pytest.mark.parametrize("name", NAMES)
def test_evaluate_returns_its_documented_keys(name, fitted):
    model, ex = fitted(name)
    out = model.evaluate(*eval_part(ex, 8))
    assert {"estimator", "n"} <= set(out)
    if model.has_likelihood:
        assert out["log_likelihood"] == pytest.approx(model.score(*eval_part(ex, 8)), rel=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip(name, fitted, tmp_path):
    model, ex = fitted(name)
    model.save(tmp_path / name)
    loaded = gl.load(tmp_path / name)
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    assert same(draw(loaded, ex, 6, 3), draw(model, ex, 6, 3))
    if model.has_likelihood:
        np.testing.assert_array_equal(loaded.log_prob(*eval_part(ex)),
                                      model.log_prob(*eval_part(ex)))


@pytest.mark.parametrize("name", NAMES)
def test_clone_gives_an_unfitted_copy_with_the_same_params(name, fitted):
    model, ex = fitted(name)
    copy = clone(model)
    assert type(copy) is type(model) and copy.get_params() == model.get_params()
    with pytest.raises(gl.NotFittedError):
        draw(copy, ex, 2, seed=0)


@pytest.mark.parametrize("name", [n for n in NAMES if registry.get(n).conditional])
def test_conditional_models_need_and_check_labels(name, fitted):
    model, ex = fitted(name)
    classes = np.unique(ex["y"])
    assert np.array_equal(model.classes_, classes)
    with pytest.raises(ValueError):
        model.sample(2, seed=0, **ex["sample"])  # y is required
    with pytest.raises(ValueError):
        model.sample(2, y=classes.max() + 1, seed=0, **ex["sample"])


@pytest.mark.parametrize("name", [n for n in NAMES if registry.get(n).epoch_trained])
def test_epoch_callback_and_resume(name):
    model, ex = make(name)
    seen = []
    model.fit(*fit_args(ex), callback=lambda epoch, record: seen.append((epoch, dict(record))))
    epochs = model.epochs_trained_
    assert epochs >= 1 and [e for e, _ in seen][-1] == epochs
    assert all(isinstance(r, dict) for _, r in seen)
    assert len(model.history_) >= 1
    if model.resumable:
        model.set_params(epochs=model.epochs + 1).fit(*fit_args(ex), resume=True)
        assert model.epochs_trained_ > epochs


def test_not_fitted_error_is_scikit_learns():
    assert issubclass(gl.NotFittedError, sklearn.exceptions.NotFittedError)


# issue 10 defect 8, for the array-input models it covered (others may join the list)
@pytest.mark.parametrize("name", [n for n in ("vae", "gan", "rbm", "dbn") if n in NAMES])
def test_rows_models_refuse_sparse_input_and_accept_numeric_objects(name):
    import scipy.sparse

    model, ex = make(name)
    X = np.asarray(ex["X"])
    with pytest.raises((TypeError, ValueError), match="[Ss]parse"):
        model.fit(scipy.sparse.csr_matrix(X.reshape(len(X), -1)))
    as_objects = X.astype(object)  # numbers stored as Python objects, as pandas may hand over
    fit_args_obj = (as_objects,) if ex["y"] is None else (as_objects, ex["y"].astype(object))
    assert model.fit(*fit_args_obj) is model


@pytest.mark.parametrize("name", ["vae", "gan", "rbm", "transformer"])
def test_a_seed_too_large_for_torch_is_a_clear_error(name):
    model, ex = make(name, seed=2**70)
    with pytest.raises(ValueError, match="seed must be below 2\\*\\*32"):
        model.fit(*fit_args(ex))
