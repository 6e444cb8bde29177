# jupyter_mltrack — the two commands of the README, and a few helpers.
#   make demo   install the package and open JupyterLab on examples/ (embedded SQLite store)
#   make test   install everything the tests need and run pytest, jest and the browser tests
#   make fuzz   fuzz the REST API from its openapi.json (FUZZ_EXAMPLES per operation, random seed)
#   make team-store  a PostgreSQL + S3-compatible team store on this machine (README: Working
#               with a team), until Ctrl-C
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
PIP := $(PYTHON) -m pip
JLPM := jlpm
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: demo test install system-deps python-deps js-deps build pytest jest ui-tests fuzz bench lint format clean team-store

demo: ## install and open JupyterLab on examples/
	$(PIP) install ".[examples]"
	@# Jupyter refuses to run as root unless told; the quick start runs as root on a fresh box.
	cd examples && jupyter lab $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

test: system-deps install pytest jest ui-tests ## everything CI runs

system-deps: ## Debian's chromium (browser tests) and postgresql (store tests)
	@if ! command -v chromium >/dev/null || ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium postgresql >/dev/null; \
	fi

install: python-deps ## editable install with the test extras and the built frontend
	jupyter server extension list 2>&1 | grep "jupyter_mltrack.*OK" >/dev/null
	jupyter labextension list 2>&1 | grep "jupyter-mltrack.*OK" >/dev/null

python-deps:
	@# a `jupyter labextension develop` symlink would break pip's reinstall of the shared data
	@link="$$($(PYTHON) -c 'import sys; print(sys.prefix)')/share/jupyter/labextensions/jupyter-mltrack"; \
	  if [ -L "$$link" ]; then rm "$$link"; fi
	$(PIP) install -q "jupyterlab>=4.6,<5" "hatch-jupyter-builder>=0.9" hatchling hatch-nodejs-version build
	@# torch before the extras (Keras and Lightning need it), pinned: the CPU build lies in
	@# /opt/wheels (pip's find-links), and a range would pull a multi-GB CUDA build instead
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[test,bench,examples]"

build: ## production build of the frontend into jupyter_mltrack/labextension
	cd labextension && $(JLPM) install && $(JLPM) build:prod

pytest:
	@# Two workers, as CI has 2 vCPUs (pytest-xdist): about 14 min where one worker took 22.
	@# A worker is given a whole test file at a time (--dist loadfile), so what a file's tests
	@# share (module fixtures: kernels, notebooks executed once, a wheel built, a Dask cluster)
	@# is set up once, on one worker. `load` and `loadgroup` (without groups) deal a file's tests
	@# to both workers, which then both set it up; `worksteal` splits the files at the ends of
	@# its shares: measured on the six files with the most set-up, 247 s against loadfile's 237.
	@# Whole files balance well enough: the two workers end within seconds of each other. The
	@# heaviest tests (8 writers and a reader, kills at random moments) share the machine with
	@# the other worker and need no group of their own. Each worker's PostgreSQL, S3 server,
	@# Jupyter servers and kernels take ports from a range of its own (tests/ports.py).
	status=0; $(PYTHON) -m pytest -n 2 --dist loadfile -q -p no:cacheprovider --durations=25 \
	  || status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing on purpose" >&2; exit 1; fi; \
	  exit $$status

jest:
	cd labextension && $(JLPM) install && $(JLPM) test

ui-tests:
	cd labextension/ui-tests && $(JLPM) install && $(JLPM) playwright test

FUZZ_EXAMPLES ?= 500
fuzz: ## the REST API fuzzed from openapi.json: many examples per operation, a new seed each time
	MLTRACK_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) MLTRACK_FUZZ_SEED=$${MLTRACK_FUZZ_SEED:-random} \
	  $(PYTHON) -m pytest -q -p no:cacheprovider -o timeout=7200 tests/test_api_fuzz.py

TEAM_ENV ?= .mltrack-team.env
team-store: ## the tests' PostgreSQL and S3-compatible server as a team store, until Ctrl-C
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi
	$(PIP) install -q -e ".[team]" "moto[server]>=5" boto3
	$(PYTHON) -m tests.team_store --env-file $(TEAM_ENV)

bench: ## speed against MLflow & co., figures for docs/benchmarks.md
	$(PYTHON) -m bench

lint:
	ruff check jupyter_mltrack tests bench
	ruff format --check jupyter_mltrack tests bench
	cd labextension && $(JLPM) lint

format:
	ruff check --fix jupyter_mltrack tests bench
	ruff format jupyter_mltrack tests bench
	cd labextension && $(JLPM) prettier && $(JLPM) eslint

clean:
	rm -rf build dist jupyter_mltrack/labextension labextension/lib labextension/node_modules \
	  labextension/ui-tests/node_modules labextension/tsconfig.tsbuildinfo
