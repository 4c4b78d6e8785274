"""Stage-aligned tap selection for kr_keras CIFAR/ImageNet-style ResNets.

The rule, the project's reading of the paper's Sec. 3.3 grouping:
docs/experiments.md, "distill".
"""

import re

from kr_keras.models.cifar_resnet import cifar_resnet
from kr_keras.models.imagenet_pairing import imagenet_pairing
from kr_keras.models.imagenet_resnet import imagenet_resnet

_NAME = re.compile(r"^stage(\d+)_block(\d+)_out$")


def _stages(model):
    stages = {}
    for layer in model.layers:
        match = _NAME.match(layer.name)
        if match:
            stages.setdefault(int(match.group(1)), []).append(layer.name)
    return stages


def stage_aligned_taps(teacher, student, group_size):
    """Returns `(teacher_layers, student_layers)` grouped `group_size` to 1.

    Args:
        teacher: Functional model with `stage{s}_block{b}_out` layers.
        student: Same naming, same number of stages.
        group_size: Teacher taps per student tap (the paper's k), >= 1.

    Returns:
        Two lists of layer names, or `(None, None)` when the models do not
        use the `stage{s}_block{b}_out` naming (the distiller's defaults
        apply then).

    Raises:
        ValueError: when a teacher stage has fewer than `group_size` blocks.

    Example:

    >>> t = kr_keras.models.cifar_resnet(20)
    >>> s = kr_keras.models.cifar_resnet(8)
    >>> teacher_layers, student_layers = stage_aligned_taps(t, s, 3)
    >>> len(teacher_layers), len(student_layers)
    (9, 3)
    """
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(
            f"`group_size` must be an integer >= 1. Received: group_size={group_size!r}"
        )
    t_stages, s_stages = _stages(teacher), _stages(student)
    if not t_stages or sorted(t_stages) != sorted(s_stages):
        return None, None
    teacher_layers, student_layers = [], []
    for stage in sorted(s_stages):
        t_blocks, s_blocks = t_stages[stage], s_stages[stage]
        per_stage = min(len(s_blocks), len(t_blocks) // group_size)
        if per_stage < 1:
            raise ValueError(
                f"Teacher stage {stage} has {len(t_blocks)} block outputs, fewer "
                f"than group_size={group_size}: lower group_size or pass "
                f"teacher_layers/student_layers. Received: group_size={group_size}"
            )
        student_layers += s_blocks[-per_stage:]
        teacher_layers += t_blocks[-per_stage * group_size:]
    return teacher_layers, student_layers


def imagenet_taps(teacher, student, group_size):
    """`(teacher_layers, student_layers)` of `kr_keras.models.imagenet_pairing`:
    every teacher block output, grouped `group_size` to each student stage
    output (ResNet-34/50 -> ResNet-18 with k = 4)."""
    pairing = imagenet_pairing(teacher, student, group_size)
    return pairing["teacher_layers"], pairing["student_layers"]


# Student family -> (builder(depth, width, num_classes, input_shape, name=...),
# KR tap rule(teacher, student, group_size)). Binaries choose by this key.
ARCHITECTURES = {
    "cifar_resnet": (cifar_resnet, stage_aligned_taps),
    "imagenet_resnet": (imagenet_resnet, imagenet_taps),
}
