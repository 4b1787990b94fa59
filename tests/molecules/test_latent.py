"""Latent-space optimisation: the molecule <-> code map, the surrogate, the oracle budget, CLI."""

import numpy as np
import pytest
import torch

pytest.importorskip("rdkit")
pytest.importorskip("selfies")

import genlearn.molecules as glm  # noqa: E402
from genlearn.cli import main as cli_main  # noqa: E402
from genlearn.molecules.generator import MoleculeGenerator  # noqa: E402
from genlearn.molecules.latent import (  # noqa: E402
    LatentSpace,
    MLPEnsemble,
    _ascend,
    latent_optimize,
)
from genlearn.molecules.objectives import Objective  # noqa: E402

from .conftest import MOLECULES  # noqa: E402

TINY_VAE = {"latent_dim": 4, "n_embd": 16, "enc_hidden": 32, "hidden": 64, "epochs": 40,
            "batch_size": 2, "lr": 1e-2, "beta": 0.05, "warmup_epochs": 0.0,
            "free_bits": 0.0, "word_dropout": 0.0}


@pytest.fixture(scope="module")
def tiny_vae():
    torch.manual_seed(0)
    return MoleculeGenerator(model="seqvae", representation="selfies", max_length=60,
                             model_params=TINY_VAE, seed=0).fit(MOLECULES[:8])


def test_codes_decode_back_to_the_molecules_the_model_learned(tiny_vae):
    space = LatentSpace(tiny_vae)
    train = [glm.canonical(s) for s in MOLECULES[:8]]
    Z = space.encode(train)
    assert Z.shape == (8, 4)
    back = space.decode(Z)
    assert back == train
    assert all(s is None or glm.canonical(s) == s for s in space.decode(
        np.random.default_rng(0).standard_normal((20, 4)), greedy=False, seed=0))


def test_latent_space_needs_a_sequence_vae():
    gen = MoleculeGenerator(model="ngram", representation="selfies",
                            model_params={"order": 2}).fit(MOLECULES)
    with pytest.raises(ValueError, match="needs a sequence VAE"):
        LatentSpace(gen)


def test_the_surrogate_learns_a_function_and_ascent_finds_its_peak():
    rng = np.random.default_rng(0)
    centre = np.array([1.0, -0.5, 0.5])
    Z = rng.uniform(-2, 2, (400, 3))
    y = -((Z - centre) ** 2).sum(1)
    sur = MLPEnsemble(3, n_models=3, steps=400, seed=0).fit(Z, y)
    Zt = rng.uniform(-1.5, 1.5, (200, 3))
    m, s = sur.predict(Zt)
    assert np.corrcoef(m, -((Zt - centre) ** 2).sum(1))[0, 1] > 0.95
    assert np.all(s >= 0)
    top = _ascend(sur, rng.uniform(-1.5, 1.5, (10, 3)), steps=200, lr=0.05, kappa=0.0,
                  prior_weight=0.0)
    assert np.all(np.linalg.norm(top - centre, axis=1) < 0.4)


def test_the_oracle_budget_is_exact_and_every_molecule_is_scored_once(tiny_vae):
    obj = Objective("qed")
    res = latent_optimize(tiny_vae, obj, budget=40, n_init=15, batch_size=10, n_starts=5,
                          n_candidates=50, ascent_steps=5, seed=0,
                          surrogate_kwargs={"n_models": 2, "steps": 20})
    assert res.oracle_calls == obj.calls == len(res.scores) <= 40
    assert res.oracle_calls >= 15
    check = Objective("qed")(list(res.scores))
    np.testing.assert_allclose(check, list(res.scores.values()))
    assert all(glm.canonical(s) == s for s in res.scores)
    assert res.history[-1]["top10"] == pytest.approx(res.top_mean(10))


def test_cli_trains_a_seqvae_and_optimizes_in_its_latent_space(molecules_csv, tmp_path,
                                                               capsys):
    run = tmp_path / "vae"
    params = ["--param", "latent_dim=4", "--param", "hidden=16", "--param", "enc_hidden=8",
              "--param", "n_embd=8", "--param", "batch_size=16"]
    assert cli_main(["molecules", "train", str(molecules_csv), "--model", "seqvae",
                     "--out", str(run), "--epochs", "2", *params]) == 0
    out = tmp_path / "best.csv"
    assert cli_main(["molecules", "optimize", str(run), "--objective", "qed", "--method",
                     "latent", "--budget", "30", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "qed:" in text and "oracle calls" in text
    rows = out.read_text().splitlines()
    assert rows[0].startswith("SMILES,score") and 1 < len(rows) <= 31
    assert cli_main(["molecules", "optimize", str(run), "--objective", "qed", "--method",
                     "latent", "--budget", "5", "-o", str(tmp_path / "x.csv"),
                     "--save-agent", str(tmp_path / "agent")]) == 1
    assert "--save-agent applies to --method reinvent" in capsys.readouterr().err


def test_a_search_can_start_from_given_molecules(tiny_vae):
    obj = Objective("guacamol:osimertinib_mpo")
    start = MOLECULES[10:30]
    res = latent_optimize(tiny_vae, obj, budget=35, n_init=10, batch_size=5, n_starts=5,
                          n_candidates=20, ascent_steps=2, seed=1, init_smiles=start,
                          surrogate_kwargs={"n_models": 2, "steps": 10})
    assert {glm.canonical(s) for s in start} <= set(res.scores)
    assert res.oracle_calls == obj.calls <= 35 and res.oracle_calls > len(start)
