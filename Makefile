# The two commands of the README: `make demo` and `make test`. Each creates the
# virtual environment it needs on first use and installs everything into it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS := .venv-extras
XBIN := $(EXTRAS)/bin

# Debian's Chromium, for the dashboard's browser tests (driven by Playwright through
# executable_path; Playwright's own browser download is never used). apt needs root.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint test-core test-extras bench docs screenshots dashboard clean

# The core environment: the CPU build of torch 2.13.0 first (it installs from local disk
# on our machines; a plain `torch` requirement would pull a CUDA build of several GB),
# then the package with its declared requirements. Zennit (lrp_epsilon) goes in with the
# one command its registration names (method_info("lrp_epsilon").install, --no-deps: it
# declares torchvision, which is kept out of the core install), read from there.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,dashboard,docs,browser,ray,hf]'
	eval "$(BIN)/python -m $$($(BIN)/python -c 'import neuromask; print(neuromask.method_info("lrp_epsilon").install)') -q"
	touch $@

# The extras environment: torchvision, timm and onnx2torch need torch 2.14.1 (transformers, in
# `all`, runs on either).
$(XBIN)/.installed: pyproject.toml
	test -x $(XBIN)/python || $(PY) -m venv $(EXTRAS)
	$(XBIN)/pip install -q --upgrade pip
	$(XBIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(XBIN)/pip install -q -e '.[dev,all]'
	# TorchRay (unmaintained; its requirements pull a CUDA torch and pycocotools) only for
	# the cross-check of extremal perturbation against the authors' code.
	$(XBIN)/pip install -q --no-deps torchray==1.0.0.2
	touch $@

demo: $(BIN)/.installed
	$(BIN)/neuromask demo --out out/demo

test: lint test-core test-extras docs

# The linter and the formatter's check, on everything Python the project has; the type
# checker on the package (strict, configured in pyproject.toml); and the import graph's
# rules (no private module of another package, no cycle, apps use the public API).
lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/ruff format --check src tests benchmarks docs
	$(BIN)/mypy
	$(BIN)/python tests/import_graph.py --bad

# A file target: once Chromium is installed this step costs nothing.
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

test-core: $(BIN)/.installed $(CHROMIUM)
	$(BIN)/python -m pytest -m "not extras" -q

test-extras: $(XBIN)/.installed
	$(XBIN)/python -m pytest -m extras -q

# The documentation site, offline, warnings as errors; then every name of neuromask.__all__
# must have its entry in the API reference.
docs: $(BIN)/.installed
	rm -rf docs/_build/html
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	$(BIN)/python docs/check_api.py docs/_build/html

# The dashboard's screenshots under docs/_static/, taken by its browser tests.
screenshots: $(BIN)/.installed $(CHROMIUM)
	NEUROMASK_SCREENSHOTS=docs/_static $(BIN)/python -m pytest -q tests/dashboard/test_browser.py

dashboard: $(BIN)/.installed
	$(BIN)/neuromask dashboard

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/speed.py

clean:
	rm -rf $(VENV) $(EXTRAS) out docs/_build docs/api docs/auto_examples docs/sg_execution_times.rst
