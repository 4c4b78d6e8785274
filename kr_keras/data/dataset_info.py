"""`DatasetInfo`: the static facts about a dataset, known without loading it."""

import dataclasses
from typing import Optional

EVAL_SPLITS = ("test", "validation")


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
        eval_split: the split every binary evaluates and validates on.
            `None`: `"test"` where the dataset has one, else `"validation"`.

    Example:

    >>> kr_keras.data.info("cifar10").split_sizes["train"]
    50000
    >>> kr_keras.data.info("imagenet2012").eval_split
    'validation'
    """

    name: str
    image_shape: tuple
    num_classes: int
    split_sizes: dict
    eval_split: Optional[str] = None

    def __post_init__(self):
        object.__setattr__(self, "image_shape", tuple(int(d) for d in self.image_shape))
        object.__setattr__(self, "split_sizes", dict(self.split_sizes))
        if self.eval_split is None:
            found = [s for s in EVAL_SPLITS if s in self.split_sizes]
            if not found:
                raise ValueError(
                    f"A dataset needs a {' or '.join(map(repr, EVAL_SPLITS))} split to evaluate "
                    f"on, or an explicit `eval_split`. Received: splits={sorted(self.split_sizes)}"
                )
            object.__setattr__(self, "eval_split", found[0])
        elif self.eval_split not in self.split_sizes:
            raise ValueError(
                f"`eval_split` must be one of the dataset's splits {sorted(self.split_sizes)}. "
                f"Received: eval_split={self.eval_split!r}"
            )
