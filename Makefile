# kr_keras: set-up, demo, tests and benchmarks. Every target sets itself up.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup data demo test benchmarks clean

setup: $(VENV)/.installed data

# A venv with the pinned ranges of requirements.txt (about a minute).
$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# Fashion-MNIST from Debian's dataset-fashion-mnist (offline IDX files).
data: $(FASHION_MNIST)
$(FASHION_MNIST):
	@if command -v apt-get >/dev/null 2>&1; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq dataset-fashion-mnist; \
	else \
	  echo "No apt-get: kr_keras will fall back to tfds for fashion_mnist."; \
	fi

# The main job: teacher (cached in saved_models/), student alone and KR student.
demo: setup
	$(PY) -m experiments.demo

test: setup
	$(PY) -m pytest tests -q -p no:cacheprovider

benchmarks: setup
	$(PY) benchmarks/data_throughput.py --batches=50

clean:
	rm -rf $(VENV) .pytest_cache

# On a GPU machine (<= 8 min on one H100): the tests marked gpu and a step-time
# table, written to results/gpu/<device>.md. Without a GPU it says so and exits 0.
.PHONY: gpu-check
gpu-check: setup
	$(PY) benchmarks/gpu_check.py
