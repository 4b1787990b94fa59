# genlearn: `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU build of PyTorch; `pip install torch` alone would fetch several GB of CUDA packages.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
DEMO_OUT ?= runs/demo
DEMO_ARGS ?=

.PHONY: demo demo-run test install lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PIP) install -q --upgrade pip
	@if $(PY) -c "import torch" 2>/dev/null; then echo "torch already installed"; \
	  elif $(PY) -c "import sys; sys.exit(0 if sys.platform.startswith('linux') else 1)" && \
	       ! command -v nvidia-smi >/dev/null 2>&1; then \
	    $(PIP) install -q "$(TORCH_SPEC)"; \
	  fi
	$(PIP) install -q -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: install demo-run

# The main job on the embedded default data (scikit-learn's 8x8 digits, binarized), with the
# recommended settings from benchmarks/README.md (mixture prior, importance-weighted training).
demo-run:
	$(VENV)/bin/genlearn train vae --data digits --binarize --out $(DEMO_OUT) --force \
	  --prior mog --objective iwae --train-samples 10 --weight-decay 1e-4 $(DEMO_ARGS)

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check src tests benchmarks examples

bench: install
	$(PY) benchmarks/vae_digits.py

clean:
	rm -rf runs build dist src/*.egg-info .pytest_cache
