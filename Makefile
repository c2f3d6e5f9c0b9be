# Two entry points do everything on a fresh machine (see README):
#   make demo   runs the main job on the bundled defaults
#   make test   installs what the tests need and runs the whole suite
# Both bootstrap .venv from nothing but python3.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-arm64 lint system-deps install-service clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The edge install: base dependencies only, as on a Raspberry Pi.
$(VENV)/.base: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# Everything: training, clients, live capture, the Dask client, the benchmarks'
# scorers and rival detectors (tests/test_bench.py runs them) and the test tools.
$(VENV)/.all: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[train,clients,live,cluster,bench,dev]' || { \
	  echo "install failed: PyAudio needs portaudio19-dev (make system-deps)"; exit 1; }
	touch $@ $(VENV)/.base

demo: $(VENV)/.base
	$(BIN)/timbrecastd info
	$(BIN)/timbrecastd demo

system-deps:
	sh .ci/system-deps

# On a Pi, as root: the daemon in /opt/timbrecast/venv, the example configuration
# in /etc/timbrecast (kept if present), the systemd unit enabled and started.
install-service:
	sh systemd/install.sh $(ARGS)

lint: $(VENV)/.all
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: system-deps $(VENV)/.all
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# Before each release, as root (about 15 minutes; not in CI): the wheel on an
# emulated Raspberry Pi 4 and 5 (arm64 Debian 12 under qemu-user), every
# descriptor compared with this machine's, and install.sh in the arm64 root.
test-arm64: $(VENV)/.base
	sh .ci/test-arm64

clean:
	rm -rf $(VENV) build *.egg-info
