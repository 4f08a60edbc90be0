# Two commands set up and run everything: `make book` and `make test`.
# Both create .venv on first use. torch is pinned; on Linux, pip's default torch
# is a multi-GB CUDA build, so pick the wheel index explicitly (see README):
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cpu     # CPU only
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cu126   # NVIDIA GPU
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
BIN := $(VENV)/bin

.PHONY: book test env clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	$(BIN)/pip install -e ".[test]"
	touch $@

env: $(BIN)/.installed

book: env
	$(BIN)/jupyter-book build . -W -n --keep-going

test: env
	$(BIN)/python -m pytest

clean:
	rm -rf _build .jupyter_cache
