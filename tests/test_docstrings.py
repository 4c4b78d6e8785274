"""Every `>>>` example in the docstrings of `kr_keras` and `experiments.lib`
runs and prints what it shows (illustrative examples use ```python blocks;
the binaries, which define absl flags on import, hold none)."""

import doctest
import glob
import importlib
import os
import pkgutil
import re

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


def _resolve(dotted):
    """What `import kr_keras; kr_keras.a.b.c` gives: attributes first, then
    submodules (imported on demand)."""
    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], 1):
        obj = (getattr(obj, part) if hasattr(obj, part)
               else importlib.import_module(".".join(parts[:i + 1])))
    return obj


ROOT = os.path.join(os.path.dirname(__file__), "..")
CODE = ("kr_keras/**/*.py", "experiments/**/*.py")


def _texts(*patterns):
    """`[(path relative to the repository, text)]` of the files `patterns` match."""
    return [(os.path.relpath(path, ROOT), open(path).read()) for pattern in patterns
            for path in sorted(glob.glob(os.path.join(ROOT, pattern), recursive=True))]


def test_every_kr_keras_name_the_docs_give_resolves():
    """Every `kr_keras.<...>` the docs, README, BUILD.md and docstrings name
    exists under that name (`kr_keras.losses.KnowledgeRepresenting` did not,
    nor `kr_keras.models.tap.feature_taps`: `tap` is also a function)."""
    names = {m.group(0): path for path, text in _texts("README.md", "BUILD.md", "docs/*.md",
                                                       *CODE)
             for m in re.finditer(r"\bkr_keras(?:\.[A-Za-z_]\w*)+", text)}
    assert len(names) > 50
    unresolved = []
    for name, path in sorted(names.items()):
        try:
            _resolve(name)
        except (AttributeError, ImportError):
            unresolved.append(f"{name} ({path})")
    assert not unresolved, unresolved


def test_every_docs_section_a_docstring_points_to_exists():
    """`docs/<file>.md, "<section>"` in the code names a heading or a bold
    lead-in (`**<section>.**` opening a line or
    bullet) of that file: docstrings send readers there."""
    pointers = [(path, *m.groups()) for path, text in _texts(*CODE)
                for m in re.finditer(r'(docs/\w+\.md),\s+"([^"]+)"', text)]
    assert len(pointers) > 20
    missing = []
    for path, doc, section in pointers:
        text = dict(_texts(doc)).get(doc, "")
        anchors = [line.lstrip("#").strip() for line in text.splitlines()
                   if line.startswith("#")] + re.findall(r"^(?:\* )?\*\*([^*]+)\*\*", text, re.M)
        if not any(a.replace("`", "").startswith(section.replace("`", "")) for a in anchors):
            missing.append(f"{path}: {doc}, {section!r}")
    assert not missing, missing
