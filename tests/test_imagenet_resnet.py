"""ImageNet ResNet-18/34/50: sizes, names, weights files, and a toy KR distill."""

import numpy as np
import pytest
import tensorflow as tf

import keras
import kr_keras
from kr_keras.models import imagenet_resnet


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("depth,published", [(18, 11.7e6), (34, 21.8e6), (50, 25.6e6)])
def test_parameter_counts_match_the_published_ones(depth, published):
    model = imagenet_resnet(depth)
    assert abs(trainable_count(model) - published) / published < 0.01
    assert model.output.shape == (None, 1000)
    # The moving BN statistics come on top of the trainable weights.
    assert model.count_params() > trainable_count(model)


@pytest.mark.parametrize("depth,blocks,channels", [(18, 8, 512), (34, 16, 512), (50, 16, 2048)])
def test_block_outputs_are_named_and_tapped(depth, blocks, channels):
    model = imagenet_resnet(depth, width_multiplier=0.125, num_classes=7, input_shape=(64, 64, 3))
    names = kr_keras.models.default_tap_names(model)
    assert len(names) == blocks and names[0] == "stage1_block1_out"
    assert model.get_layer(names[-1]).output.shape == (None, 2, 2, channels // 8)
    assert model.get_layer("stem_out").output.shape == (None, 16, 16, 8)
    logits, *features = kr_keras.models.tap(model)(np.zeros([2, 64, 64, 3], "float32"))
    assert logits.shape == (2, 7) and len(features) == blocks


@pytest.mark.parametrize("kwargs,match", [
    ({"depth": 101}, r"one of \[18, 34, 50\].*Received: depth=101"),
    ({"depth": 20}, "cifar_resnet"),
    ({"depth": 18, "width_multiplier": 0}, "Received: width_multiplier=0"),
    ({"depth": 18, "weights": "imagenet"}, "downloads no pretrained weights"),
])
def test_bad_arguments_raise_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        imagenet_resnet(**kwargs)


def small(depth=18, **kwargs):
    return imagenet_resnet(depth, width_multiplier=0.125, num_classes=5, input_shape=(32, 32, 3), **kwargs)


def test_weights_file_round_trip_and_errors(tmp_path):
    keras.utils.set_random_seed(1)
    trained = small()
    path = str(tmp_path / "resnet18.keras")
    trained.save(path)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    loaded = small(weights=path)
    np.testing.assert_allclose(loaded(x, training=False), trained(x, training=False), atol=1e-6)
    assert not np.allclose(small()(x, training=False), trained(x, training=False))

    with pytest.raises(FileNotFoundError, match="No weights file"):
        small(weights=str(tmp_path / "missing.keras"))
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="Could not load the weights"):
        small(weights=str(corrupt))
    with pytest.raises(ValueError, match="same architecture"):
        small(34, weights=path)


def test_toy_kr_distill_on_mock_imagenet_lowers_its_loss(mock_tfds):
    # Mock ImageNet through the real pipeline (evaluation transform), shrunk
    # to 64x64 and 10 classes so the k=4 ResNet-34 -> ResNet-18 pair is a toy.
    ds = kr_keras.data.load("imagenet2012", "train", batch_size=8, data_dir=mock_tfds,
                            take=16, augment=False, shuffle=False)
    ds = ds.map(lambda x, y: (tf.image.resize(x, [64, 64]), y % 10))
    x, y = (np.concatenate(a) for a in zip(*[(x.numpy(), y.numpy()) for x, y in ds]))
    assert x.shape == (16, 64, 64, 3)

    keras.utils.set_random_seed(0)
    shape = dict(width_multiplier=0.125, num_classes=10, input_shape=(64, 64, 3))
    teacher = imagenet_resnet(34, **shape)
    student = imagenet_resnet(18, **shape)
    pairing = kr_keras.models.imagenet_pairing(teacher, student)
    distiller = kr_keras.build_distiller("kr", teacher, student, **pairing)
    assert distiller.kr.group_size == 4 and len(distiller.kr.aggregators) == 4
    distiller.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                      metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k, name=f"top{k}")
                               for k in (1, 5)])
    history = distiller.fit(x, y, batch_size=8, epochs=5, shuffle=False, verbose=0).history
    for key in ("loss", "knowledge_loss", "prior_loss"):
        assert np.all(np.isfinite(history[key]))
        assert history[key][-1] < 0.7 * history[key][0], (key, history[key])
    assert history["top5"][-1] >= history["top1"][-1]
    logs = distiller.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert 0.0 <= logs["top1"] <= logs["top5"] <= 1.0
