# kr_keras: set-up, demo, tests and benchmarks. Every target sets itself up.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup python3-venv data demo test benchmarks wheel clean

setup: $(VENV)/.installed data

# The venv: requirements.txt's ranges (pip downloads TensorFlow once), then kr_keras itself,
# editable, so `import kr_keras` and the kr-* console scripts work from any
# directory (setuptools and wheel come from requirements.txt: no build isolation).
$(VENV)/.installed: requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(PY): | python3-venv
	$(PYTHON) -m venv $(VENV)

# Debian and Ubuntu ship venv's ensurepip in python3-venv (python3.X-venv):
# without it `python3 -m venv` fails. Install it, before the venv is created,
# when $(PYTHON) cannot import ensurepip.
python3-venv:
	@if [ ! -x $(PY) ] && ! $(PYTHON) -c "import ensurepip, venv" >/dev/null 2>&1; then \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "$(PYTHON) cannot create a venv (no ensurepip): install your system's python3-venv." >&2; exit 1; \
	  fi; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  PKG=python$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv; \
	  $$SUDO apt-get update -qq || exit 1; \
	  if apt-cache show $$PKG >/dev/null 2>&1; then PKGS="python3-venv $$PKG"; else PKGS=python3-venv; fi; \
	  echo "Installing $$PKGS (python3 -m venv needs ensurepip)."; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$PKGS || exit 1; \
	  $(PYTHON) -c "import ensurepip, venv" || { \
	    echo "$(PYTHON) still has no ensurepip after installing $$PKGS: install its venv package." >&2; exit 1; }; \
	fi

# Fashion-MNIST from Debian's dataset-fashion-mnist (offline IDX files).
data: $(FASHION_MNIST)
$(FASHION_MNIST):
	@if command -v apt-get >/dev/null 2>&1; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	else \
	  echo "No apt-get: kr_keras will fall back to tfds for fashion_mnist."; \
	fi

# The main job: the shipped teacher (saved_models/demo_teacher_<hash>.keras; retrained only when
# missing or its settings change), then student alone, KD, KR and KR+KD (~10 min on 2 CPU cores).
demo: setup
	$(PY) -m experiments.demo

# The suite on min(nproc, 4) workers (pytest-xdist); one file's tests stay on
# one worker (--dist loadgroup, groups set in tests/conftest.py), so module
# fixtures run once, and the files sharing the toy binary runs share a worker.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
test: setup
	$(PY) -m pytest tests -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup --durations=15

benchmarks: setup
	$(PY) benchmarks/data_throughput.py --batches=50

# A wheel of kr_keras (and the experiments binaries) in dist/, built offline.
wheel: setup
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation --no-index -w dist .

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info

# On a GPU machine (<= 8 min on one H100): the tests marked gpu and a step-time
# table, written to results/gpu/<device>.md. Without a GPU it says so and exits 0.
.PHONY: gpu-check
gpu-check: setup
	$(PY) benchmarks/gpu_check.py
