"""Per-run seeding: a run's seed fixes its data order (and augmentation) and
its student's initial weights, whatever ran before in the process and
whatever the method.

Each check builds the same thing twice, once in a fresh state and once after
unrelated random work (random ops, another global seed, other pipelines
built and iterated, models built), and compares.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kr_keras import data
from experiments.lib import config as config_lib
from experiments.lib import runtime, training
from kr_keras.models import cifar_resnet

BATCH = 8
STEPS = 4   # 32 training images: 4 batches per epoch.


@pytest.fixture(scope="module")
def npz_dataset(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("seeding") / "d.npz"
    np.savez(path, x_train=rng.integers(0, 256, (32, 8, 8, 3), dtype=np.uint8),
             y_train=np.arange(32) % 4,
             x_test=rng.integers(0, 256, (8, 8, 8, 3), dtype=np.uint8),
             y_test=np.arange(8) % 4)
    return f"npz:{path}"


def _unrelated_work(dataset):
    """What another run might have done before: other seeds, random ops,
    other pipelines built and iterated, a model built."""
    keras.utils.set_random_seed(99)
    tf.random.uniform([7])
    np.random.rand(3)
    for seed in (5, 6):
        next(iter(training.train_pipeline(dataset, BATCH, seed)))
    next(iter(tf.data.Dataset.range(10).shuffle(10)))
    cifar_resnet(8, width_multiplier=0.25, input_shape=(8, 8, 3))


def _pipeline_epochs(dataset, seed, random_ops_after_seeding=0):
    """The first batch of epochs 1 and 2 of a run's training stream (as
    `fit_resumable` feeds it: the pipeline repeated)."""
    runtime.configure(seed)
    for _ in range(random_ops_after_seeding):  # e.g. a method building its helpers
        tf.random.normal([3])
    stream = iter(training.train_pipeline(dataset, BATCH, seed).repeat())
    batches = [next(stream) for _ in range(2 * STEPS)]
    return [(x.numpy(), y.numpy()) for x, y in (batches[0], batches[STEPS])]


def _same(a, b):
    return all(np.array_equal(u, v) for (x, y), (x2, y2) in zip(a, b) for u, v in ((x, x2), (y, y2)))


def test_training_pipeline_order_and_augmentation_depend_on_the_seed_only(npz_dataset):
    first = _pipeline_epochs(npz_dataset, 3)
    _unrelated_work(npz_dataset)
    again = _pipeline_epochs(npz_dataset, 3, random_ops_after_seeding=5)
    assert _same(first, again)
    # Epochs differ (reshuffled and re-augmented), and so does another seed.
    assert not np.array_equal(first[0][0], first[1][0])
    assert not _same(first, _pipeline_epochs(npz_dataset, 4))


def _weights(model):
    return [w.numpy() for w in model.weights]


def test_distill_student_initialisation_is_the_same_for_every_method(npz_dataset, tmp_path):
    info = data.info(npz_dataset)
    teacher = cifar_resnet(8, width_multiplier=0.5, num_classes=info.num_classes,
                           input_shape=info.image_shape)
    path = str(tmp_path / "teacher.keras")
    teacher.save(path)

    def student(method, seed, random_ops=0):
        config = config_lib.DistillConfig(
            method=method, dataset=npz_dataset, teacher=path, student_width=0.25,
            batch_size=BATCH, seed=seed, hparams={"group_size": 1} if method == "kr" else {})
        runtime.configure(config.seed)
        for _ in range(random_ops):  # whatever ran between configuring and building
            keras.random.uniform([5])
            tf.random.uniform([5])
        distiller, _, _ = training.build_distillation(config)
        return _weights(distiller.student)

    kd = student("kd", 2)
    _unrelated_work(npz_dataset)
    kr = student("kr", 2, random_ops=3)
    assert len(kd) == len(kr) and all(np.array_equal(a, b) for a, b in zip(kd, kr))
    assert not all(np.array_equal(a, b) for a, b in zip(kd, student("kd", 3)))
