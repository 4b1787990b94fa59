"""One training loop for every gradient-trained model; a model supplies its step."""

from .loop import NonFiniteLossError, run_epochs

__all__ = ["NonFiniteLossError", "run_epochs"]
