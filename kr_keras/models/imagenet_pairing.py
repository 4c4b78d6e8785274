"""The default KR tap pairing for ImageNet ResNets (aggregation number k = 4)."""

import re

from kr_keras.models.tap import default_tap_names

# kr_keras ResNets (`stage2_block1_out`) and keras.applications ResNets
# (`conv3_block1_out`): the stage of a residual block output.
_BLOCK = re.compile(r"(?:stage|conv)(\d+)_block\d+_out$")


def stage_output_names(model):
    """Names of the last block output of each stage of a ResNet, in order.

    Args:
        model: A functional ResNet whose block outputs are named
            `stage{s}_block{b}_out` (kr_keras) or `conv{s}_block{b}_out`
            (`keras.applications`).

    Returns:
        A list with one layer name per stage (4 for ImageNet ResNets).
    """
    # Each block follows its input block in graph order: a stage's last name is its last block.
    last = {}
    for name in default_tap_names(model):
        match = _BLOCK.search(name)
        if match:
            last[int(match.group(1))] = name
    if not last:
        raise ValueError(
            f"Model '{model.name}' has no layer named 'stage<s>_block<b>_out' or "
            "'conv<s>_block<b>_out'; pass teacher_layers/student_layers "
            f"explicitly. Received: model.name={model.name!r}"
        )
    return [last[stage] for stage in sorted(last)]


def imagenet_pairing(teacher, student, group_size=4):
    """KR taps for an ImageNet teacher/student pair with `k = group_size`.

    Student taps: the output of each of the student's stages; teacher taps:
    every residual block output, in order, `group_size` per student tap
    (paper Sec. 3.3, 4.2.3). The reading: docs/method.md, "ImageNet pairing".

    Args:
        teacher: A functional ResNet (`imagenet_resnet(34)`, `(50)`, or a
            `keras.applications` ResNet).
        student: A functional ResNet (e.g. `imagenet_resnet(18)`).
        group_size: Teacher taps per student tap (the paper's k; 4 on ILSVRC).

    Returns:
        A dict with `teacher_layers`, `student_layers` and `group_size`,
        ready for `KRDistiller(teacher, student, **pairing)` or
        `build_distiller("kr", teacher, student, **pairing)`.

    Raises:
        ValueError: when the teacher's block count is not
            `group_size` x the student's stage count.

    Example:

    >>> teacher = kr_keras.models.imagenet_resnet(34)
    >>> student = kr_keras.models.imagenet_resnet(18)
    >>> pairing = imagenet_pairing(teacher, student)
    >>> len(pairing["teacher_layers"]), pairing["student_layers"][0]
    (16, 'stage1_block2_out')
    """
    if not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"`group_size` must be an int >= 1. Received: group_size={group_size!r}")
    teacher_layers = default_tap_names(teacher)
    student_layers = stage_output_names(student)
    needed = group_size * len(student_layers)
    if len(teacher_layers) != needed:
        raise ValueError(
            f"KR with k={group_size} on the student's {len(student_layers)} stage "
            f"outputs needs {needed} teacher block outputs, but teacher "
            f"'{teacher.name}' has {len(teacher_layers)}. Use a teacher with "
            f"{needed} blocks (ResNet-34 or ResNet-50 for k=4), "
            f"group_size={len(teacher_layers) / len(student_layers):g} if that "
            "is an integer, or pass teacher_layers/student_layers to the "
            f"distiller explicitly. Received: group_size={group_size}, "
            f"teacher blocks {teacher_layers}, student stage outputs {student_layers}"
        )
    return {
        "teacher_layers": teacher_layers,
        "student_layers": student_layers,
        "group_size": group_size,
    }
