"""The suite's own set-up (tests/conftest.py)."""

import os

import pytest

from conftest import SHARED_TOY_RUNS


def test_xdist_groups_are_in_effect(request):
    """Under `make test` (`-n N --dist loadgroup`), each test's node id carries
    its file's group, which is what makes pytest-xdist keep a file's tests
    (and their module fixtures) on one worker."""
    if not hasattr(request.config, "workerinput") or not request.config.getvalue("loadgroup"):
        pytest.skip("not running under pytest-xdist with --dist loadgroup")
    assert request.node.nodeid.endswith("@" + os.path.basename(__file__)), request.node.nodeid


def test_toy_run_files_exist():
    here = os.path.dirname(__file__)
    assert all(os.path.exists(os.path.join(here, name)) for name in SHARED_TOY_RUNS)
