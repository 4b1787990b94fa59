"""The GAN's defaults, chosen by the shape of the data (a hyperparameter left at None).

Three recipes, each the one a benchmark measures:

- ``"low_dim"`` (<= 3 columns, e.g. the 2-D ring and grid mixtures): the mode-covering recipe
  of benchmarks/gan_modes.py -- wider Adam steps (1e-3, betas (0.5, 0.9)), batches of 256
  packed by 4 (PacGAN), a categorical code of 100 categories in the noise, the learning rates
  decaying to zero over the second half, 50 epochs; the discriminator sees random Fourier
  features (scale 10) with a gradient penalty of 1 (``fourier_features`` / ``gradient_penalty``
  left at None). It reached 25/25 grid modes at 99.2% high-quality samples (10 seeds) in about
  50 s per seed; the ring was tuned with scale 20 and 64 categories (README).
- ``"image"`` (the DCGAN generator: 2-D examples, ``image_shape``, or square pixel rows in
  [0, 1]): the DCGAN recipe of benchmarks/gan_digits.py -- latent 32, Adam 2e-4 with betas
  (0.5, 0.999), batches of 64, 100 epochs.
- ``"table"`` (anything else): MLPs of 256-256-256, latent 8, Adam 2e-4 with betas
  (0.5, 0.999), batches of 64, 100 epochs.

An explicit value always wins over the recipe. ``GAN.settings_`` holds the values used.
"""

from __future__ import annotations

RECIPES: dict[str, dict] = {
    "low_dim": dict(latent_dim=16, hidden_g=(128, 128, 128), hidden_d=(128, 128, 128),
                    lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.9), batch_size=256, pack=4,
                    latent_categories=100, lr_decay=0.5, fourier_scale=10.0, epochs=50),
    "image": dict(latent_dim=32, hidden_g=(256, 256, 256), hidden_d=(256, 256, 256),
                  lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=64, pack=1,
                  latent_categories=0, lr_decay=0.0, fourier_scale=10.0, epochs=100),
    "table": dict(latent_dim=8, hidden_g=(256, 256, 256), hidden_d=(256, 256, 256),
                  lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=64, pack=1,
                  latent_categories=0, lr_decay=0.0, fourier_scale=10.0, epochs=100),
}
AUTO = tuple(RECIPES["table"])  # the hyperparameters a recipe fills in when left at None


def choose_recipe(n_features: int, image: bool) -> str:
    """``"image"`` for the DCGAN generator, ``"low_dim"`` for <= 3 columns, else ``"table"``."""
    if image:
        return "image"
    return "low_dim" if n_features <= 3 else "table"


def resolve(recipe: str, params: dict) -> dict:
    """The values used: each parameter in :data:`AUTO` given explicitly, else the recipe's."""
    return {k: RECIPES[recipe][k] if params.get(k) is None else params[k] for k in AUTO}
