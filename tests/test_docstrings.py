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


def _resolve(dotted):
    """What `import kr_keras; kr_keras.a.b.c` gives: attributes first, then
    submodules (imported on demand)."""
    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], 1):
        obj = (getattr(obj, part) if hasattr(obj, part)
               else importlib.import_module(".".join(parts[:i + 1])))
    return obj


def test_every_kr_keras_name_the_docs_give_resolves():
    """Every `kr_keras.<...>` the docs, README, BUILD.md and docstrings name
    exists under that name (`kr_keras.losses.KnowledgeRepresenting` did not,
    nor `kr_keras.models.tap.feature_taps`: `tap` is also a function)."""
    import glob
    import os
    import re

    root = os.path.join(os.path.dirname(__file__), "..")
    paths = [os.path.join(root, p) for p in ("README.md", "BUILD.md")] + [
        p for pattern in ("docs/*.md", "kr_keras/**/*.py", "experiments/**/*.py")
        for p in glob.glob(os.path.join(root, pattern), recursive=True)]
    names = {m.group(0): path for path in paths for m in re.finditer(
        r"\bkr_keras(?:\.[A-Za-z_]\w*)+", open(path).read())}
    assert len(names) > 50
    unresolved = []
    for name, path in sorted(names.items()):
        try:
            _resolve(name)
        except (AttributeError, ImportError):
            unresolved.append(f"{name} ({os.path.relpath(path, root)})")
    assert not unresolved, unresolved


def test_every_docs_section_a_docstring_points_to_exists():
    """`docs/<file>.md, "<section>"` in the code names a heading or a bold
    lead-in (`**<section>.**` opening a line or
    bullet) of that file: docstrings send readers there."""
    import glob
    import os
    import re

    root = os.path.join(os.path.dirname(__file__), "..")
    pointers = []
    for pattern in ("kr_keras/**/*.py", "experiments/**/*.py"):
        for path in glob.glob(os.path.join(root, pattern), recursive=True):
            pointers += [(os.path.relpath(path, root), *m.groups()) for m in re.finditer(
                r'(docs/\w+\.md),\s+"([^"]+)"', open(path).read())]
    assert len(pointers) > 20
    missing = []
    for path, doc, section in pointers:
        text = open(os.path.join(root, doc)).read() if os.path.exists(
            os.path.join(root, doc)) else ""
        anchors = [line.lstrip("#").strip() for line in text.splitlines()
                   if line.startswith("#")] + re.findall(r"^(?:\* )?\*\*([^*]+)\*\*", text, re.M)
        if not any(a.replace("`", "").startswith(section.replace("`", "")) for a in anchors):
            missing.append(f"{path}: {doc}, {section!r}")
    assert not missing, missing
