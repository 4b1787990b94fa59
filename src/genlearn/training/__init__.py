"""One training loop for every gradient-trained model; a model supplies its step.

:class:`EpochModel` (training/epoch.py) is the base that owns ``fit`` for the epoch-trained
families; :func:`run_epochs` (training/loop.py) is its loop.
"""

from .epoch import EpochModel, EpochPlan
from .loop import NonFiniteLossError, run_epochs

__all__ = ["EpochModel", "EpochPlan", "NonFiniteLossError", "run_epochs"]
