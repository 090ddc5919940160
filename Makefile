# Two commands set everything up: `make demo` and `make test`.
# Both create the virtual environment when it is missing.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# uv installs the stack in seconds; it is given the same local sources as pip's own
# configuration names (none on most machines). pip is the fallback.
PIP_FIND_LINKS = $(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null)
PIP_EXTRA_INDEX = $(shell $(PYTHON) -m pip config get global.extra-index-url 2>/dev/null)
UV_SOURCES = $(foreach u,$(PIP_EXTRA_INDEX),--extra-index-url $(u)) \
             $(foreach d,$(PIP_FIND_LINKS),--find-links $(d))

export HF_HUB_OFFLINE := 1
export NO_ALBUMENTATIONS_UPDATE := 1

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml .ci/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	( $(BIN)/python -m pip install --quiet uv && \
	  $(BIN)/uv pip install --python $(BIN)/python --index-strategy unsafe-best-match \
	    $(UV_SOURCES) -c .ci/constraints.txt -e '.[dev]' ) || \
	$(BIN)/python -m pip install -c .ci/constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/plantwatch demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/plantwatch bench data
	$(BIN)/plantwatch bench fit

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
