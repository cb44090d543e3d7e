# Two commands: `make run` serves the whole product; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint check-types messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/odr migrate
	$(BIN)/odr triage-train
	$(BIN)/odr demo
	$(BIN)/odr serve

test: lint check-types
	$(BIN)/pytest --numprocesses auto --dist loadgroup

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

check-types: $(VENV)/.installed-test
	$(BIN)/mypy odr web signaling

# Refresh the Chinese catalogue after changing texts (then translate the new entries).
messages: $(VENV)/.installed-test
	mkdir -p var
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k NC_:1c,2 -k ngettext_:1,2 --no-location --sort-output -o var/messages.pot .
	$(BIN)/pybabel update -i var/messages.pot -d odr/translations -l zh_CN -N --ignore-obsolete

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
