"""``python -m genlearn`` (and ``torchrun -m genlearn``): the ``genlearn`` command."""

import sys

from .cli import main

sys.exit(main())
