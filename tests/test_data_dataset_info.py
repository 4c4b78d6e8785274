"""`DatasetInfo.eval_split`: the one rule for which split the binaries evaluate on."""

import pytest

import kr_keras
from kr_keras.data import DatasetInfo


def test_eval_split_is_test_or_imagenet_validation():
    assert kr_keras.data.info("fashion_mnist").eval_split == "test"
    assert kr_keras.data.info("cifar100").eval_split == "test"
    assert kr_keras.data.info("imagenet2012").eval_split == "validation"
    assert DatasetInfo("mine", (8, 8, 1), 2, {"train": 4, "validation": 2}).eval_split == "validation"


def test_eval_split_must_exist():
    with pytest.raises(ValueError, match="needs a 'test' or 'validation' split"):
        DatasetInfo("mine", (8, 8, 1), 2, {"train": 4})
    with pytest.raises(ValueError, match="eval_split='holdout'"):
        DatasetInfo("mine", (8, 8, 1), 2, {"train": 4, "test": 2}, eval_split="holdout")
