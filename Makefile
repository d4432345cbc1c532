# r1lsp — every target installs what it needs into .venv first (works on a fresh machine).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.r1lsp-installed
# torch first and pinned: this version lies on disk here (CPU build); an unpinned torch, or
# bitsandbytes installed before it, would pull a multi-GB CUDA build.
TORCH  ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: install test demo bench bench-quick clean
install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e '.[test]'
	touch $@

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

demo: install
	$(VENV)/bin/r1lsp doctor
	$(VENV)/bin/r1lsp levels samples/Inventory.java

bench: install
	$(PY) bench/structure_bench.py
	$(PY) bench/model_bench.py

bench-quick: install
	$(PY) bench/structure_bench.py --quick
	$(PY) bench/model_bench.py --quick

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
