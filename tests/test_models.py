"""Tests of `cifar_resnet` and `tap`."""

import keras
import numpy as np
import pytest

from kr_keras.models import cifar_resnet
from kr_keras.models import default_tap_names
from kr_keras.models import tap


@pytest.mark.parametrize("depth,blocks", [(8, 3), (14, 6), (20, 9), (26, 12)])
def test_block_outputs_are_named(depth, blocks):
    model = cifar_resnet(depth, input_shape=(16, 16, 3))
    names = default_tap_names(model)
    assert len(names) == blocks
    assert names[0] == "stage1_block1_out"


def test_parameter_counts_match_the_paper():
    # Paper Table 1/2: ResNet-26 0.36M, ResNet-32 0.46M, ResNet-8 0.12M? (the
    # paper's student counts include its filter reduction); ResNet-20 is the
    # well-known 0.27M.
    assert abs(cifar_resnet(20).count_params() - 0.27e6) < 0.01e6
    assert abs(cifar_resnet(32).count_params() - 0.46e6) < 0.01e6
    assert abs(cifar_resnet(26).count_params() - 0.37e6) < 0.01e6


def test_width_multiplier_and_logits():
    model = cifar_resnet(8, width_multiplier=0.75, num_classes=7, input_shape=(28, 28, 1))
    assert model.get_layer("stem_conv").filters == 12
    out = model(np.zeros((2, 28, 28, 1), "float32"))
    assert out.shape == (2, 7)


def test_bad_depth_is_a_clear_error():
    with pytest.raises(ValueError, match="6n\\+2"):
        cifar_resnet(10)


def test_tap_returns_logits_and_features():
    model = cifar_resnet(8, width_multiplier=0.5, input_shape=(16, 16, 3))
    tapped = tap(model)
    logits, *features = tapped(np.ones((2, 16, 16, 3), "float32"))
    assert logits.shape == (2, 10)
    assert [f.shape for f in features] == [(2, 16, 16, 8), (2, 8, 8, 16), (2, 4, 4, 32)]
    np.testing.assert_allclose(logits, model(np.ones((2, 16, 16, 3), "float32")), atol=1e-5)


def test_tap_unknown_name_lists_layers():
    model = cifar_resnet(8, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="Available layers"):
        tap(model, ["nope"])


def test_default_taps_need_block_outputs():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="explicitly"):
        default_tap_names(model)
