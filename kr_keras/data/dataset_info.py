"""`DatasetInfo`: the static facts about a dataset, known without loading it."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Static description of a dataset served by `kr_keras.data.load`.

    Args:
        name: the name given to `kr_keras.data.info` / `kr_keras.data.load`.
        image_shape: `(height, width, channels)` of the images that `load`
            yields (after any resize/crop, e.g. `(224, 224, 3)` for ImageNet).
        num_classes: labels lie in `[0, num_classes)`.
        split_sizes: number of examples per split, e.g.
            `{"train": 50000, "test": 10000}`. Its keys are the valid splits.

    Example:

    >>> kr_keras.data.info("cifar10").split_sizes["train"]
    50000
    """

    name: str
    image_shape: tuple
    num_classes: int
    split_sizes: dict

    def __post_init__(self):
        object.__setattr__(self, "image_shape", tuple(int(d) for d in self.image_shape))
        object.__setattr__(self, "split_sizes", dict(self.split_sizes))
