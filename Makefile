# r1lsp — every target installs what it needs into .venv first (works on a fresh machine).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.r1lsp-installed
# torch first and pinned: this version lies on disk here (CPU build); an unpinned torch, or
# bitsandbytes installed before it, would pull a multi-GB CUDA build.
TORCH  ?= torch==2.13.0
PYTEST_ARGS ?=
DEMO_AT    ?= 60:21

.PHONY: install test demo bench bench-quick clean jdk-index fuzz
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
	$(VENV)/bin/r1lsp levels samples/Inventory.java | head -40
	@echo "--- completions at samples/Inventory.java:$(DEMO_AT)"
	$(VENV)/bin/r1lsp complete samples/Inventory.java:$(DEMO_AT)
	@echo "--- ghost text: samples/inventory.py with line 71 cut to '    inv.' (a member of Inventory must follow; the lines below call add)"
	sed 's/^    inv\.add("hammer".*$$/    inv./' samples/inventory.py > $(VENV)/inventory_demo.py
	$(VENV)/bin/r1lsp complete $(VENV)/inventory_demo.py:71:9 --inline
	@echo "--- the same with the confidence gate off (what the server would withhold)"
	$(VENV)/bin/r1lsp complete $(VENV)/inventory_demo.py:71:9 --inline --min-confidence -100
	@echo "--- samples/Inventory.java translated to Python, then run"
	$(VENV)/bin/r1lsp translate samples/Inventory.java -o $(VENV)/Inventory_demo.py --force
	$(PY) $(VENV)/Inventory_demo.py

BENCHES := structure model completion translate experts deepseek train attention fuzz ablation ghost_members
# A hostile client (bench/fuzz_bench.py): 10,000 seeded messages with the shipped model on
fuzz: install
	$(PY) bench/fuzz_bench.py --messages 10000 --model --json

bench: install
	$(PY) bench/gemm_probe.py
	for b in $(BENCHES); do $(PY) bench/$${b}_bench.py || exit 1; done

bench-quick: install
	$(PY) bench/gemm_probe.py --quick
	for b in $(BENCHES); do $(PY) bench/$${b}_bench.py --quick || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# The training corpus (model/corpus_fetch.py, model/corpus_shards.py): fetch the pinned sources of
# model/corpus_sources.txt (PyPI sdists, Debian Java source packages) into cache/corpus-src, gather
# (licences, exact + MinHash dedup, split by package), encode (CORPUS_MINUTES bounds a run; the next
# `make corpus` goes on) and pack into cache/corpus. Nothing of it is committed.
CORPUS_MINUTES ?= 0
CORPUS_SOURCES ?= model/corpus_sources.txt
FETCH_VENV := cache/corpus-src/fetch-venv
$(FETCH_VENV)/.ok:
	$(PYTHON) -m venv $(FETCH_VENV)
	$(FETCH_VENV)/bin/pip install -q "pip>=25" "setuptools>=80" wheel setuptools-scm hatchling hatch-vcs \
		hatch-fancy-pypi-readme flit-core pdm-backend poetry-core
	touch $@
corpus: install $(FETCH_VENV)/.ok
	$(PY) -m model.corpus_fetch --sources $(CORPUS_SOURCES) --out cache/corpus-src --pip $(FETCH_VENV)/bin/pip
	OMP_NUM_THREADS=1 $(PY) -m model.corpus_shards all --src cache/corpus-src --out cache/corpus \
		--sources $(CORPUS_SOURCES) --max-minutes $(CORPUS_MINUTES)

# Training that adds up (model/train.py): each `make train` runs TRAIN_MINUTES, resuming
# cache/runs/r1-tiny/state when it is there, else starting from the shipped weights (their
# tokens_seen carried over); at the end the best checkpoint by held-out loss is shipped into
# model/checkpoints/r1-tiny (bf16, card.json, loss.png) if it beats the shipped one on the same
# held-out windows. The cosine runs over TRAIN_STEPS (a long horizon: many runs share it).
TRAIN_MINUTES ?= 40
TRAIN_STEPS ?= 60000
# 1.5e-4: the shipped run's last rate. A fresh AdamW at 6e-4 (4x it) made held-out loss rise at every
# eval of a continued run while the training loss fell (docs/MODEL_CARD.md, "Continue training").
TRAIN_LR ?= 1.5e-4
TRAIN_ARGS ?=
train: install
	test -f cache/corpus/manifest.json || $(MAKE) corpus
	OMP_NUM_THREADS=1 $(PY) -m model.train --corpus cache/corpus --out cache/runs/r1-tiny \
		--init-from model/checkpoints/r1-tiny --ship model/checkpoints/r1-tiny \
		--seq-len 256 --batch-size 16 --lr $(TRAIN_LR) --warmup 20 --max-steps $(TRAIN_STEPS) \
		--max-minutes $(TRAIN_MINUTES) --eval-every 100 --save-every 100 --threads 1 $(TRAIN_ARGS)

# The same on one GPU (model/train_gpu.py): at most 9 minutes, bf16, torch.compile, then ships if better.
train-gpu: install
	test -f cache/corpus/manifest.json || $(MAKE) corpus
	$(PY) -m model.train_gpu --corpus cache/corpus --out cache/runs/r1-tiny-gpu \
		--init-from model/checkpoints/r1-tiny --ship model/checkpoints/r1-tiny $(TRAIN_ARGS)

# Progressive fine-tuning (model/finetune.py) on your own code: make finetune DATA=~/src/project
DATA ?= .
FT_OUT ?= runs/finetune
FINETUNE_ARGS ?=
finetune: install
	$(PY) -m model.finetune --data $(DATA) --base model/checkpoints/r1-tiny --out $(FT_OUT) $(FINETUNE_ARGS)
.PHONY: corpus train train-gpu finetune

# Expert labels (r1lsp/expert_calibration.py): routes the Python standard library and the JDK's src.zip
# as the server does (int8, each paragraph on its own, code tokens only) and writes
# model/checkpoints/r1-tiny/expert_labels.json, which the server shows ("7 · calls ×1.8").
CALIBRATE_ARGS ?=
calibrate: install
	OMP_NUM_THREADS=1 $(PY) -m r1lsp.expert_calibration $(CALIBRATE_ARGS)
.PHONY: calibrate

# VS Code extension (editor-client/): npm ci + esbuild bundle + vsce package -> editor-client/r1lsp-<version>.vsix
vsix:
	cd editor-client && npm ci --no-audit --no-fund && npm test && npm run package
# The extension in real VS Code (code-server + chromium, installed on first run); see editor-client/README.md
e2e: install vsix
	cd editor-client && R1LSP_PYTHON=$(abspath $(PY)) node test/e2e/run.mjs
.PHONY: vsix e2e

# Held-out code for bench/completion_quality.py (names, versions and dev/test split pinned in
# bench/devset.json): PyPI sdists and Debian Java source packages into cache/devset
devset: install
	$(PY) bench/devset.py
.PHONY: devset

# The member-usage prior shipped in r1lsp/usage-prior.json.gz (completion ranking): counts of
# `receiver_type.member` in the JDK's src.zip (typed by r1lsp/java) and the Python standard
# library; needs the JDK's src.zip here (a few minutes on one core), never at run time.
usage-prior: install
	OMP_NUM_THREADS=1 $(PY) -m r1lsp.usage_prior_build
.PHONY: usage-prior

# The JDK API index shipped in r1lsp/java/jdk-api.txt.gz (Java completion); needs a JDK 17+ here,
# never at run time. JDK_MODULES: which modules' exported packages go in.
JDK_MODULES ?= java.base java.logging java.sql java.net.http java.xml java.desktop
jdk-index:
	java r1lsp/java/JdkIndex.java $(JDK_MODULES) > r1lsp/java/jdk-api.txt.tmp
	gzip -9n < r1lsp/java/jdk-api.txt.tmp > r1lsp/java/jdk-api.txt.gz
	rm r1lsp/java/jdk-api.txt.tmp
