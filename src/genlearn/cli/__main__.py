"""``python -m genlearn.cli``: the ``genlearn`` command."""

import sys

from . import main

sys.exit(main())
