"""Every method's taps on models without kr_keras' layer names: one rule
(`kr_keras.models.tap.feature_taps`), `teacher_layers` / `student_layers`
on every feature method, and errors that name the fix.

The `keras.applications` pair trains one step per method eagerly
(`run_eagerly=True`): a graph trace of ResNet-50 plus MobileNetV2 takes
about 10 s per method on two cores, the eager step about 2 s. The losses'
graph-mode numerics are covered with kr_keras' ResNets in
tests/test_losses_zoo.py and tests/test_distillers_baselines.py.
"""

import importlib
import warnings

import keras
import numpy as np
import pytest

import kr_keras
from kr_keras.losses.common import paired_taps
from kr_keras.models.tap import feature_taps

# KR's family (its own tap rule, tested below), or no distillation loss (ce).
KR_FAMILY = ["kr", "kr+kd", "kr+kdgan", "kr_dense", "kr_weights"]
SKIP = {*KR_FAMILY, "ce"}
FEATURE = ["ab", "at", "cc", "crd", "fitnet", "fsp", "ft", "nst", "pkt", "rkd", "sp", "vid"]
LOGIT_ONLY = ["dkd", "kd", "kdgan"]


@pytest.fixture(scope="module")
def apps():
    keras.utils.set_random_seed(0)
    kwargs = dict(weights=None, input_shape=(32, 32, 3), classes=10, classifier_activation=None)
    return (keras.applications.ResNet50(**kwargs),
            keras.applications.MobileNetV2(alpha=0.35, **kwargs))


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(4, 32, 32, 3)).astype("float32"), np.arange(4)


def test_the_registry_splits_into_feature_and_logit_methods():
    assert sorted(set(kr_keras.distillers.names()) - SKIP) == sorted(FEATURE + LOGIT_ONLY)
    for name in FEATURE:
        assert {"teacher_layers", "student_layers"} <= kr_keras.distillers.registry.hyperparameters(name)
        module = importlib.import_module(f"kr_keras.losses.{name}")
        assert module.DEFAULTS["teacher_layers"] is None is module.DEFAULTS["student_layers"]
    for name in LOGIT_ONLY:
        assert "teacher_layers" not in kr_keras.distillers.registry.hyperparameters(name)


def test_default_taps_of_keras_applications(apps):
    teacher, student = apps
    assert feature_taps(teacher) == ["conv1_relu", "conv2_block3_out", "conv3_block4_out",
                                     "conv4_block6_out", "conv5_block3_out"]
    assert feature_taps(student) == ["block_1_expand_relu", "block_3_expand_relu",
                                     "block_6_expand_relu", "block_13_expand_relu", "out_relu"]
    assert feature_taps(teacher, "preactivation")[1:] == [
        "conv2_block3_add", "conv3_block4_add", "conv4_block6_add", "conv5_block3_add"]
    assert feature_taps(student, "boundaries")[:2] == ["Conv1_relu", "block_1_expand_relu"]
    assert feature_taps(teacher, "middle") == ["conv3_block4_out"]
    assert feature_taps(student, "last") == ["out_relu"]
    # (MobileNetV2's pooling layer is numbered by what was built before in the process.)
    pooling = [l.name for l in student.layers
               if isinstance(l, keras.layers.GlobalAveragePooling2D)]
    assert (feature_taps(teacher, "embedding"), feature_taps(student, "embedding")) == (
        ["avg_pool"], pooling)


def test_default_taps_without_global_pooling():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="c2")(x)
    x = keras.layers.ReLU(name="r2")(x)
    x = keras.layers.Flatten(name="flat")(x)
    net = keras.Model(inputs, keras.layers.Dense(3, name="logits")(x))
    assert feature_taps(net) == ["c1", "r2"]
    assert feature_taps(net, "preactivation") == ["c1", "c2"]
    assert feature_taps(net, "embedding") == ["flat"]


def test_default_counts_that_differ_pair_the_deepest(apps):
    student = kr_keras.models.cifar_resnet(8, width_multiplier=0.25, input_shape=(32, 32, 3))
    assert paired_taps("AT", apps[0], student, None, None) == [
        ("conv3_block4_out", "stage1_block1_out"), ("conv4_block6_out", "stage2_block1_out"),
        ("conv5_block3_out", "stage3_block1_out")]
    with pytest.raises(ValueError, match="AT pairs one teacher tap with each student tap"):
        paired_taps("AT", apps[0], student, None, ["stage3_block1_out"])


def test_a_model_without_maps_names_the_fix():
    inputs = keras.Input((6,))
    mlp = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dense(4, name="h")(inputs)))
    with pytest.raises(ValueError, match="VID: Model .* has no 4D feature map .* Pass "
                       "teacher_layers= and student_layers="):
        paired_taps("VID", mlp, mlp, None, None)
    assert paired_taps("RKD", mlp, mlp, None, None, "embedding", None) == [("h", "h")]


@pytest.mark.parametrize("name", sorted(set(FEATURE + LOGIT_ONLY) - {"fsp"}))
def test_every_method_trains_a_step_on_keras_applications(name, apps, batch):
    distiller = kr_keras.build_distiller(name, *apps)
    distiller.compile(optimizer="sgd", run_eagerly=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The structure of `inputs`")
        logs = distiller.train_on_batch(*batch, return_dict=True)
    assert all(np.isfinite(float(v)) for v in logs.values()), logs
    if name in FEATURE:
        teacher_taps = {l.teacher_layer_name if isinstance(l.teacher_layer_name, str)
                        else tuple(l.teacher_layer_name) for l in distiller.distillation_losses}
        assert teacher_taps and None not in teacher_taps


@pytest.mark.parametrize("name", KR_FAMILY)
def test_kr_family_trains_a_step_on_keras_applications_with_string_optimizers(name, apps, batch):
    """No `*block<i>_out` on MobileNetV2: KR pairs the stage ends, one
    teacher map per group, and the aggregators train with their own "sgd"."""
    distiller = kr_keras.build_distiller(name, *apps)
    assert distiller.kr.student_layer_name == feature_taps(apps[1])
    assert distiller.kr.teacher_layer_name == feature_taps(apps[0])
    distiller.compile(optimizer="sgd", auxiliary_optimizer="sgd", run_eagerly=True)
    before = [v.numpy().copy() for v in distiller.kr.trainable_variables]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The structure of `inputs`")
        logs = distiller.train_on_batch(*batch, return_dict=True)
    assert all(np.isfinite(float(v)) for v in logs.values()), logs
    assert all(not np.array_equal(b, v.numpy())
               for b, v in zip(before, distiller.kr.trainable_variables))


def test_fsp_names_the_unusable_pair_and_the_fix(apps):
    """FSP compares Gram matrices entry-wise: ResNet-50's and MobileNetV2's
    maps differ in width, so it cannot run on their default taps."""
    with pytest.raises(ValueError) as error:
        kr_keras.build_distiller("fsp", *apps)
    message = str(error.value)
    for part in ("FSP", "'conv1_relu'", "(None, 16, 16, 64)", "'block_1_expand_relu'",
                 "(None, 16, 16, 48)", "channel count", "teacher_layers=",
                 "student_layers=", "Received: teacher_layers=None"):
        assert part in message, (part, message)


@pytest.mark.parametrize("name,teacher_layers,student_layers,expected", [
    ("ab", "conv1_relu", "out_relu", "its connector needs a student map at least"),
    ("fitnet", "conv3_block4_out", "out_relu", "its regressor needs a student map"),
    ("vid", "avg_pool", "out_relu", "it needs outputs of rank 4"),
    ("at", ["conv4_block6_out", "conv5_block3_out"], "out_relu", "pairs one teacher tap"),
    ("sp", "conv5_block3_out", "no_such_layer", r"has no layer\(s\) \['no_such_layer'\]"),
])
def test_unusable_explicit_pairs_name_the_fix(apps, name, teacher_layers, student_layers,
                                               expected):
    with pytest.raises(ValueError, match=expected) as error:
        kr_keras.build_distiller(name, *apps, teacher_layers=teacher_layers,
                                 student_layers=student_layers)
    assert str(error.value).endswith(
        f"Received: teacher_layers={teacher_layers!r}, student_layers={student_layers!r}")
    assert "Pass teacher_layers= and student_layers=" in str(error.value)


@pytest.mark.parametrize("name", sorted(set(FEATURE) - {"fsp"}))
def test_feature_methods_take_explicit_layer_names(name, apps):
    distiller = kr_keras.build_distiller(name, *apps, teacher_layers="conv4_block6_out",
                                         student_layers="block_13_expand_relu")
    [loss] = distiller.distillation_losses
    assert (loss.teacher_layer_name, loss.student_layer_name) == (
        "conv4_block6_out", "block_13_expand_relu")


def test_fsp_takes_explicit_lists():
    keras.utils.set_random_seed(0)
    teacher = kr_keras.models.cifar_resnet(14, width_multiplier=0.25, input_shape=(8, 8, 1))
    student = kr_keras.models.cifar_resnet(8, width_multiplier=0.25, input_shape=(8, 8, 1))
    layers = ["stage1_block1_out", "stage2_block1_out"]
    distiller = kr_keras.build_distiller("fsp", teacher, student, teacher_layers=layers,
                                         student_layers=layers)
    [loss] = distiller.distillation_losses
    assert loss.teacher_layer_name == loss.student_layer_name == layers
    with pytest.raises(ValueError, match="FSP needs >= 2 taps"):
        kr_keras.build_distiller("fsp", teacher, student, teacher_layers=layers[0],
                                 student_layers=layers[0])


def test_kr_resnet_defaults_are_the_reference_taps():
    """RepDistiller's taps on kr_keras' CIFAR ResNets, as before the one rule."""
    teacher = kr_keras.models.cifar_resnet(14, width_multiplier=0.5, input_shape=(8, 8, 1))
    student = kr_keras.models.cifar_resnet(8, width_multiplier=0.25, input_shape=(8, 8, 1))
    ends_t = ["stage1_block2_out", "stage2_block2_out", "stage3_block2_out"]
    ends_s = ["stage1_block1_out", "stage2_block1_out", "stage3_block1_out"]
    pairs = lambda kind, rank=4: paired_taps("X", teacher, student, None, None, kind, rank)  # noqa: E731
    assert pairs("stages") == list(zip(ends_t, ends_s))
    assert pairs("preactivation") == [(t.replace("out", "add"), s.replace("out", "add"))
                                      for t, s in zip(ends_t, ends_s)]
    assert pairs("boundaries") == [("stem_out", "stem_out"), *zip(ends_t, ends_s)]
    assert pairs("middle") == [(ends_t[1], ends_s[1])]
    assert pairs("last") == [(ends_t[2], ends_s[2])]
    assert pairs("embedding", None) == [("pool", "pool")]


def _strided(sizes, name):
    """A functional CNN on 32x32 inputs whose stage ends have the spatial `sizes`."""
    x = inputs = keras.Input((32, 32, 3))
    for i, size in enumerate(sizes):
        x = keras.layers.Conv2D(4, 3, strides=x.shape[1] // size, padding="same",
                                activation="relu", name=f"{name}_end{size}")(x)
    outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name=name)


def test_default_single_tap_moves_to_the_teacher_end_that_fits():
    # The middle ends are 8x8 (teacher) and 2x2 (student): FitNet's regressor
    # cannot map 2x2 onto 8x8 (smaller, not half), so the teacher's nearest end
    # that fits (4x4, twice the student's: a transposed convolution) is taken.
    teacher, student = _strided([16, 8, 4, 2], "t"), _strided([16, 2, 1], "s")
    assert paired_taps("FitNet", teacher, student, None, None, kind="middle") == [
        ("t_end8", "s_end2")]
    fitnet = kr_keras.losses.fitnet.build_losses(teacher, student, None, None, 1.0)[0]
    assert (fitnet[0].teacher_layer_name, fitnet[0].student_layer_name) == ("t_end4", "s_end2")
    # Names given by the user are kept, and a pair that cannot work still says so.
    with pytest.raises(ValueError, match="FitNet cannot pair teacher layer 't_end8'.*"
                                         "teacher_layers="):
        kr_keras.losses.fitnet.build_losses(teacher, student, "t_end8", "s_end2", 1.0)


def test_default_multi_pair_taps_move_to_teacher_taps_that_fit():
    # Deepest-first pairing gives (t 4x4, s 16x16) and (t 2x2, s 8x8); a method that
    # needs equal sizes takes, for each student map, the nearest teacher map that fits.
    teacher, student = _strided([16, 8, 4, 2], "t"), _strided([16, 8], "s")

    def equal_sizes(t_shape, s_shape):
        return None if t_shape[1] == s_shape[1] else "it needs maps of one size"

    assert paired_taps("X", teacher, student, None, None, check=equal_sizes) == [
        ("t_end16", "s_end16"), ("t_end8", "s_end8")]
    # Pairs that fit keep the deepest-first rule: AT, and AB, whose connector
    # (RepDistiller's ConvReg) maps a larger student map onto the teacher's.
    assert paired_taps("AT", teacher, student, None, None) == [("t_end4", "s_end16"),
                                                               ("t_end2", "s_end8")]
    abs_ = kr_keras.losses.ab.build_losses(teacher, student, None, None, 1.0, None, 1.0)[0]
    assert [(l.teacher_layer_name, l.student_layer_name) for l in abs_] == [
        ("t_end4", "s_end16"), ("t_end2", "s_end8")]


@pytest.mark.parametrize("method", ["kr", "at", "fitnet"])
def test_nested_backbones_train_as_the_flat_models(method):
    """`keras.Sequential([backbone, ...])` hides the backbone's layers: the
    distillers tap them in one flat graph of the same layers, so the nested
    student trains exactly as the plain one (same seed, data and steps)."""
    shape = (8, 8, 1)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, *shape)).astype("float32"), rng.integers(0, 10, 8)
    keras.utils.set_random_seed(0)
    teacher = kr_keras.models.cifar_resnet(14, 0.5, input_shape=shape)
    student = kr_keras.models.cifar_resnet(8, 0.5, input_shape=shape)
    start = [w.numpy() for w in student.weights]

    def train(t, s):
        keras.utils.set_random_seed(1)
        distiller = kr_keras.build_distiller(method, t, s)
        distiller.compile(optimizer="sgd", auxiliary_optimizer="sgd")
        for _ in range(2):
            distiller.train_on_batch(x, y)
        return [w.numpy() for w in student.weights]

    plain = train(teacher, student)
    for variable, value in zip(student.weights, start):
        variable.assign(value)
    nest = lambda model: keras.Sequential([keras.Input(shape), model], name=f"{model.name}_in")
    nested = train(nest(teacher), nest(student))
    assert any(not np.array_equal(a, b) for a, b in zip(start, nested))  # it trained
    for a, b in zip(plain, nested):
        np.testing.assert_array_equal(a, b)


def _any_size_net(name, widths):
    """A functional net on `keras.Input((None, None, 3))`: maps of unknown size."""
    inputs = keras.Input((None, None, 3))
    x = inputs
    for i, width in enumerate(widths):
        x = keras.layers.Conv2D(width, 3, strides=2, padding="same", activation="relu",
                                name=f"{name}_stage{i}")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x), name=name)


@pytest.mark.parametrize("name", ["kr", "fitnet", "ab"])
def test_methods_sizing_helpers_name_the_fix_for_maps_of_unknown_size(name, batch):
    """KR's aggregators, FitNet's regressor and AB's connector are sized from
    the maps' height and width; on a model of unknown input size the error
    gives the rebuild, and the rebuilt models train."""
    teacher, student = _any_size_net("teacher", (8, 16)), _any_size_net("student", (4, 8))
    with pytest.raises(ValueError, match=r"needs the height and width .*clone_model"):
        kr_keras.build_distiller(name, teacher, student)
    fixed = []
    for model in (teacher, student):  # the error's recipe
        rebuilt = keras.models.clone_model(model, input_tensors=keras.Input((32, 32, 3)))
        rebuilt.set_weights(model.get_weights())
        fixed.append(rebuilt)
    distiller = kr_keras.build_distiller(name, *fixed)
    distiller.compile(optimizer="sgd", run_eagerly=True)
    assert np.isfinite(distiller.train_on_batch(*batch, return_dict=True)["loss"])


@pytest.mark.parametrize("name", ["at", "vid", "crd"])
def test_methods_on_channels_alone_train_on_maps_of_unknown_size(name, batch):
    teacher, student = _any_size_net("teacher", (8, 16)), _any_size_net("student", (4, 8))
    hparams = {"n_data": 8, "nce_k": 4} if name == "crd" else {}
    distiller = kr_keras.build_distiller(name, teacher, student, **hparams)
    distiller.compile(optimizer="sgd", run_eagerly=True)
    assert np.isfinite(distiller.train_on_batch(*batch, return_dict=True)["loss"])
