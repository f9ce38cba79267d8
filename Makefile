# Two commands for a fresh machine (Python 3.11+, pip, gcc):
#   make demo   install adwise (with the local language model) in .venv and run `adwise demo`
#   make test   install adwise with its test tools, the local language model and the Spark
#               engine in .venv and run the test suite (the Spark tests need Java 17+)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[llm]'
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,llm,spark]'
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/adwise demo

test: $(VENV)/.test-installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: the suite is broken" >&2; exit 1; fi; \
	exit $$rc

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) adwise-demo adwise-workspace .pytest_cache
