"""Every `>>>` example in the docstrings of `kr_keras` and `experiments.lib`
runs and prints what it shows (illustrative examples use ```python blocks;
the binaries, which define absl flags on import, hold none)."""

import doctest
import importlib
import pkgutil

import keras
import numpy as np
import pytest
import tensorflow as tf

import experiments.lib
import kr_keras


def _modules(package):
    return [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]


@pytest.mark.parametrize("package", [kr_keras, experiments.lib], ids=lambda p: p.__name__)
def test_docstring_examples_run(package, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    globs = {"tf": tf, "keras": keras, "np": np, "kr_keras": kr_keras}
    failed, attempted = [], 0
    for name in _modules(package):
        module = importlib.import_module(name)
        result = doctest.testmod(module, extraglobs=globs, report=False,
                                 optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        attempted += result.attempted
        if result.failed:
            failed.append(name)
    assert attempted > 0
    assert not failed, f"docstring examples failed in {failed}; run python -m doctest -v on them"
