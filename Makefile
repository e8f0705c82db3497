# make run   : the whole recipe on real data on this machine (set-up included)
# make test  : set-up, then the test suite (what CI runs)
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CACHE ?= .cache
export PIP_CONSTRAINT := $(abspath constraints.txt)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export MPA_CACHE := $(abspath $(CACHE))
export TORCH_EXTENSIONS_DIR := $(abspath $(CACHE))/torch_extensions
PIP_QUIET := -q
# this machine's pip config names local mirrors that do not exist: hide that noise, keep errors
QUIET_PIP := { grep -v "^WARNING: Location" || true; }
RUN ?= runs/demo

.PHONY: setup data test test-fast run catalog bench clean

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install $(PIP_QUIET) -r requirements.txt 2>&1 | $(QUIET_PIP)
	$(PIP) install $(PIP_QUIET) --no-deps -e . 2>&1 | $(QUIET_PIP)
	$(PY) -c "import torch, deepspeed, e3nn, webdataset, ray, hydra, pymatgen, rdkit, vesin, ase" 
	touch $@

$(CACHE)/.data: requirements-data.txt $(VENV)/.installed
	$(PIP) install $(PIP_QUIET) --no-deps --ignore-requires-python -r requirements-data.txt 2>&1 | $(QUIET_PIP)
	mkdir -p $(CACHE)/pkgs
	$(PIP) download $(PIP_QUIET) --no-deps --no-binary=:all: alignn==2026.8.11 -d $(CACHE)/pkgs 2>&1 | $(QUIET_PIP)
	$(PIP) download $(PIP_QUIET) --no-deps --only-binary=:all: m3gnet==0.2.4 -d $(CACHE)/pkgs 2>&1 | $(QUIET_PIP)
	$(PY) -m mpa_dist.data.offline --check
	touch $@

setup: $(VENV)/.installed
data: $(CACHE)/.data

test: data
	$(PY) -m pytest -q --durations=25

test-fast: data
	$(PY) -m pytest -q -m "not slow and not multiprocess"

catalog: data
	$(PY) launch/catalog.py

# The whole recipe on real data on this machine: catalogue, shards, pre-training,
# mid-training, then the post-training sweep (Ray Tune) of the demo tasks from the
# mid-trained (MPA) and the pre-trained (direct) checkpoints, ending with the report.
RUN_NAME ?= demo
EXPERIMENT ?= demo
run: data
	@start=$$(date +%s); \
	$(PY) launch/catalog.py && \
	$(PY) launch/pretrain.py experiment=$(EXPERIMENT) name=$(RUN_NAME) && \
	$(PY) launch/midtrain.py experiment=$(EXPERIMENT) name=$(RUN_NAME) && \
	$(PY) launch/posttrain.py experiment=$(EXPERIMENT) name=$(RUN_NAME) sweep=$(EXPERIMENT) && \
	echo "make run: $$(( $$(date +%s) - start )) s from the catalogue to the report (runs/$(RUN_NAME)/sweep/report.md)"

bench: data
	$(PY) bench/bench_data.py

clean:
	rm -rf $(VENV) $(CACHE) shards/*/ runs outputs
