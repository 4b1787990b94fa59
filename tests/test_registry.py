import pytest

import genlearn as gl
from genlearn import registry


def test_vae_is_registered_and_unknown_name_lists_known():
    assert registry.get("vae") is gl.VAE
    assert registry.get("VAE") is gl.VAE
    assert "vae" in registry.names()
    with pytest.raises(ValueError, match="unknown model 'nope'.*vae"):
        registry.get("nope")


def test_name_clash_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        registry.register("vae")(type("Other", (), {}))
