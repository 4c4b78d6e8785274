"""Tests of the presets (the paper's recipes as data) and the student
architectures the binaries can build."""

import dataclasses

import keras
import numpy as np
import pytest

import kr_keras
from experiments.lib import config as config_lib
from experiments.lib import training
from experiments.lib.taps import ARCHITECTURES
from kr_keras.models import imagenet_resnet


def _rate(schedule, step, total, steps_per_epoch=100):
    built = schedule.build(total_steps=total, steps_per_epoch=steps_per_epoch)
    return float(built(step)) if callable(built) else float(built)


def test_cifar_preset_is_the_papers_schedule():
    cifar = config_lib.preset("cifar")
    total = cifar.steps
    for schedule, initial in ((cifar.knowledge_lr, 0.1), (cifar.student_lr, 0.01)):
        assert np.isclose(_rate(schedule, 0, total), initial)
        assert np.isclose(_rate(schedule, 30_001, total), initial * 0.1)
        assert np.isclose(_rate(schedule, 48_001, total), initial * 0.01)
    assert cifar.weight_decay == 1e-5 and cifar.momentum == 0.9
    assert cifar.hparams["group_size"] == 3


def test_imagenet_preset_is_the_papers_recipe():
    imagenet = config_lib.preset("imagenet")
    assert imagenet.dataset == "imagenet2012"
    assert imagenet.student_arch == "imagenet_resnet" and imagenet.student_depth == 18
    assert imagenet.hparams["group_size"] == 4
    assert imagenet.student_lr.initial == 0.005 and imagenet.knowledge_lr.initial == 0.1
    assert imagenet.knowledge_lr.kind == "poly" and imagenet.knowledge_lr.decay_epochs == 6
    total, spe = 90 * 100, 100
    # Constant within each 6-epoch window, lower after it.
    assert _rate(imagenet.knowledge_lr, 0, total, spe) == _rate(imagenet.knowledge_lr, 599, total, spe)
    assert _rate(imagenet.knowledge_lr, 600, total, spe) < _rate(imagenet.knowledge_lr, 599, total, spe)
    assert imagenet.weight_decay == 1e-5 and imagenet.momentum == 0.9


def test_imagenet_student_and_taps_are_built_by_the_binaries(tmp_path):
    """`--preset=imagenet`: an ImageNet ResNet-18 student, k = 4 taps."""
    keras.utils.set_random_seed(0)
    teacher = imagenet_resnet(34, width_multiplier=0.125)  # 224x224x3, 1000 classes
    path = str(tmp_path / "teacher.keras")
    teacher.save(path)
    cfg = config_lib.preset("imagenet").with_overrides(
        teacher=path, student_width=0.125, method="kr")
    distiller, _, _ = training.build_distillation(cfg)
    assert distiller.student.count_params() < teacher.count_params()
    kr = distiller.kr
    assert len(kr.teacher_layer_name) == 16 and len(kr.student_layer_name) == 4
    assert kr.group_size == 4
    assert sorted(ARCHITECTURES) == ["cifar_resnet", "imagenet_resnet"]


@pytest.mark.parametrize("train_take,expected", [(None, 60_000), (5_000, 5_000), (10**6, 60_000)])
def test_crd_memory_has_one_row_per_training_image(tmp_path, train_take, expected):
    """The binaries size CRD's memory bank to the training images they use
    (RepDistiller: n_data = len(train set)), unless n_data is given."""
    keras.utils.set_random_seed(0)
    teacher = kr_keras.models.cifar_resnet(8, width_multiplier=0.25, input_shape=(28, 28, 1))
    path = str(tmp_path / "teacher.keras")
    teacher.save(path)
    cfg = config_lib.preset("fashion_mnist").with_overrides(
        teacher=path, method="crd", student_depth=8, student_width=0.25)
    cfg = dataclasses.replace(cfg, train_take=train_take)  # the preset's is 12,000
    distiller, _, _ = training.build_distillation(cfg)
    assert distiller.distillation_losses[0].n_data == expected
    given = cfg.with_overrides(hparams={"n_data": 1234})
    assert training.build_distillation(given)[0].distillation_losses[0].n_data == 1234
