# Two commands matter: `make run` and `make test`. Both set up what they need and are
# quick on a second run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install only when the dependency list changes.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
OPENWEBUI_VENV := .venv-openwebui
NPM_CLIENTS := .npm-clients
AIDER_VENV := .venv-aider
PYTEST_ARGS ?=

.PHONY: run daemon test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, pinned: the CPU wheel, so sentence-transformers does not pull a CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# The tray app where a display exists, otherwise the daemon alone.
run: $(STAMP)
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ] || [ "$$(uname)" = Darwin ]; then \
		exec $(BIN)/roundhouse; \
	else \
		echo "No display: starting the daemon only."; exec $(BIN)/roundhoused serve; \
	fi

daemon: $(STAMP)
	exec $(BIN)/roundhoused serve

# The whole suite. tests/run.sh provides a D-Bus session with an unlocked GNOME Keyring
# and a virtual display with a tray host when the machine has them.
test: $(STAMP)
	@bash scripts/openwebui_env.sh $(OPENWEBUI_VENV)
	@bash scripts/npm_clients.sh $(NPM_CLIENTS)
	@bash scripts/aider_env.sh $(AIDER_VENV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	bash tests/run.sh $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/proxy_overhead.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache

include packaging/package.mk
