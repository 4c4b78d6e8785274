"""FitNet hint loss and the HintRegressor layer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kr_keras.layers import HintRegressor
from kr_keras.losses import fitnet_loss


def test_fitnet_loss_is_mse_and_checks_shapes():
    rng = np.random.default_rng(1)
    s, t = rng.normal(size=(2, 2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(fitnet_loss(s, t), ((s - t) ** 2).mean(), rtol=1e-5)
    assert float(fitnet_loss(t, t)) == 0.0
    with pytest.raises(ValueError, match="HintRegressor"):
        fitnet_loss(s[..., :2], t)


# RepDistiller's ConvReg: (s_H == 2 t_H) 3x3 stride 2; (2 s_H == t_H) 4x4
# transposed stride 2; (s_H >= t_H) kernel (1 + s_H - t_H, 1 + s_W - t_W).
@pytest.mark.parametrize("s_shape,t_shape,kernel,strides,transpose", [
    ((None, 8, 8, 4), (None, 8, 8, 6), 1, 1, False),
    ((None, 8, 8, 4), (None, 4, 4, 6), 3, 2, False),
    ((None, 4, 4, 4), (None, 8, 8, 6), 4, 2, True),
    ((None, 10, 9, 4), (None, 8, 8, 6), [3, 2], 1, False),
    ((None, 10, 10, 4), (None, 8, 8, 6), [3, 3], 1, False),
    ((None, 8, 8, 4), (None, 3, 3, 6), [6, 6], 1, False),
])
def test_regressor_maps_student_to_hint_shape(s_shape, t_shape, kernel, strides, transpose):
    reg = HintRegressor.for_shapes(s_shape, t_shape)
    assert (reg.kernel_size, reg.strides, reg.transpose) == (kernel, strides, transpose)
    out = reg(tf.ones((2, *s_shape[1:])))
    assert tuple(out.shape[1:]) == t_shape[1:]
    clone = HintRegressor.from_config(reg.get_config())
    clone.build((None, *s_shape[1:]))
    assert tuple(clone(tf.ones((2, *s_shape[1:]))).shape[1:]) == t_shape[1:]


def test_regressor_rejects_unsupported_sizes():
    for s_shape, t_shape in (((None, 5, 5, 4), (None, 8, 8, 6)), ((None, 8, 4, 4), (None, 6, 6, 6))):
        with pytest.raises(ValueError, match="Received: student_shape"):
            HintRegressor.for_shapes(s_shape, t_shape)


def test_regressor_config_round_trip_and_save(tmp_path):
    reg = HintRegressor(6, kernel_size=3, strides=2)
    assert HintRegressor.from_config(reg.get_config()).get_config() == reg.get_config()
    inputs = keras.Input((8, 8, 4))
    model = keras.Model(inputs, reg(inputs))
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 4)).astype("float32")
    model.save(tmp_path / "r.keras")
    loaded = keras.models.load_model(tmp_path / "r.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
