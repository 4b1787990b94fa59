"""Every script in examples/ runs with tiny settings; a new script must be listed here."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TINY_ARGS = {
    "compare_digits.py": ["--epochs", "1", "--models", "vae,hmm", "--samples", "200"],
    "gan_modes.py": ["--epochs", "1", "--rows", "512"],
    "image_augment.py": ["--k", "3", "--per-class", "4", "--copies", "1"],
    "hmm_text.py": ["--chars", "3000", "--states", "4", "--iters", "3"],
    "hmm_weather.py": ["--days", "30", "--sequences", "5", "--restarts", "1"],
    "music_chorales.py": ["--pieces", "4", "--epochs", "1", "--hidden", "2"],
    "molecules_qed.py": ["--epochs", "1", "--hidden", "16", "--samples", "50", "--budget", "20"],
    "rbm_digits.py": ["--epochs", "2", "--n-betas", "20"],
    "tabular_augment.py": ["--epochs", "2", "--rows", "200"],
    "text_transformer.py": ["--chars", "4000", "--epochs", "1", "--n-layer", "1", "--n-embd",
                            "16", "--block-size", "16", "--length", "20"],
    "vae_digits.py": ["--epochs", "2", "--k", "10"],
}


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(TINY_ARGS)


@pytest.mark.parametrize("name", sorted(TINY_ARGS))
def test_example_runs(name, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [name, *TINY_ARGS[name], "--out", str(tmp_path)])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    assert any(tmp_path.iterdir()), "the example wrote nothing"
    assert "wrote" in capsys.readouterr().out
