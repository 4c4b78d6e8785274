"""Shared fixtures of the data tests."""

import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

MOCK_EXAMPLES = 16


@pytest.fixture
def mock_tfds(tmp_path):
    """TFDS mocked with `MOCK_EXAMPLES` random examples per split; yields a data_dir
    whose `downloads/manual/` holds (empty) ImageNet tar files."""
    manual = tmp_path / "downloads" / "manual"
    manual.mkdir(parents=True)
    for f in ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar"):
        (manual / f).write_bytes(b"")
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES):
        yield str(tmp_path)


def batches(ds):
    """All `(images, labels)` of a dataset as two numpy arrays."""
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


def snapshot(variables):
    """Copies of variables' current values (numpy), to compare after a step."""
    return [v.numpy().copy() for v in variables]


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "gpu: checks for a GPU machine (tests/test_gpu.py); skipped without a GPU, "
        "run by benchmarks/gpu_check.py",
    )


# The files that use tests/experiment_runs.py's toy teacher and student
# (cached per process) share a pytest-xdist worker in two groups: each
# trains the toy pair once (about 45 s), and the two long groups can run
# side by side on two workers.
TOY_RUN_GROUPS = {"test_experiments_binaries.py": "toy_runs_binaries",
                  "test_export.py": "toy_runs_reliability",
                  "test_reliability.py": "toy_runs_reliability"}
SHARED_TOY_RUNS = set(TOY_RUN_GROUPS)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Groups for `make test`'s `--dist loadgroup`: a file's tests stay on
    one worker (module fixtures run once), and the toy-run files share two.

    `tryfirst`: pytest-xdist's own hook reads the `xdist_group` marks to
    build the scopes, so they must be set before it runs. xdist 3.8 writes
    the group into `item._nodeid`, which pytest 9 no longer reads, so the
    requirements pin pytest < 9: under pytest 9 every test was its own
    scope and the 400 s mirrored fixture ran on both workers
    (tests/test_conftest.py checks the groups are in effect)."""
    for item in items:
        name = os.path.basename(str(item.fspath))
        item.add_marker(pytest.mark.xdist_group(TOY_RUN_GROUPS.get(name, name)))
