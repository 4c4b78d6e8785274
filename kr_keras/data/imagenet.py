"""ImageNet 2012 (ILSVRC2012) through TFDS, which needs a manual download."""

import os

import tensorflow as tf
import tensorflow_datasets as tfds

from kr_keras.data import augment
from kr_keras.data.dataset_info import DatasetInfo
from kr_keras.data.source import DatasetBuilder, Source, tfds_examples

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MANUAL_FILES = ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar")


def manual_dir(data_dir=None):
    """The directory where TFDS expects the ImageNet tar files."""
    root = data_dir if data_dir is not None else tfds.core.constants.DATA_DIR
    return os.path.join(os.fspath(root), "downloads", "manual")


def _decode(encoded):
    return tf.io.decode_image(encoded, channels=3, expand_animations=False)


class Imagenet(DatasetBuilder):
    """Builder for `"imagenet2012"` (splits `"train"` and `"validation"`)."""

    name = "imagenet2012"

    def info(self):
        return DatasetInfo(self.name, (224, 224, 3), 1000, {"train": 1_281_167, "validation": 50_000},
                           eval_split="validation")

    def source(self, split, data_dir=None):
        builder = tfds.builder(self.name, data_dir=data_dir)
        if not builder.is_prepared():
            where = manual_dir(data_dir)
            missing = [f for f in MANUAL_FILES if not os.path.exists(os.path.join(where, f))]
            if missing:
                raise FileNotFoundError(
                    "ImageNet 2012 must be downloaded by hand: get "
                    f"{', '.join(MANUAL_FILES)} from https://image-net.org/ and put them in "
                    f"{where!r} (i.e. <data_dir>/downloads/manual/); TFDS prepares the dataset "
                    f"from them on the first load. Missing: {missing}. Received: data_dir={data_dir!r}"
                )
        return Source(
            examples=tfds_examples(
                self.name, split, data_dir, decoders={"image": tfds.decode.SkipDecoding()}
            ),
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            train_transform=augment.random_resized_crop_flip,
            eval_transform=augment.resize_center_crop,
            decode=_decode,
            cache=False,
            shuffle_buffer=10_000,
        )
