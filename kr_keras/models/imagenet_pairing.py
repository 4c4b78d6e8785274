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

    The paper sets the aggregation number to 4 on ILSVRC 2012 (Sec. 4.2.3)
    and says it alleviates the over-regularisation of a shallow student by a
    very deep teacher. The project's reading (paper Sec. 3.3, docs/method.md):

    * **student taps** = the output of each of the student's 4 stages
      (`stage{s}_block{last}_out`): one knowledge map per resolution
      (56, 28, 14, 7 at 224x224), which is what a ResNet-18 student
      (8 blocks) can match without every block being pinned to the teacher;
    * **teacher taps** = every residual block output of the teacher, in
      order. ResNet-34 and ResNet-50 have 3+4+6+3 = 16 blocks, so
      16 / 4 stages = 4 = k: consecutive groups of 4 blocks are aggregated
      into each student stage output. The groups follow the graph order, not
      the stage boundaries (group 1 = stage-1 blocks 1-3 and stage-2 block 1,
      group 2 = stage-2 blocks 2-4 and stage-3 block 1, group 3 = stage-3
      blocks 2-5, group 4 = stage-3 block 6 and stage 4); the
      `IdentityMapping` of each aggregator brings the odd map to the student
      tap's size (average pooling down, bilinear resizing up).

    A ResNet-18 teacher has only 8 blocks (k = 2 against 4 student stages),
    so it gets an error that names the counts; pass explicit layer lists to
    `KRDistiller` for other choices.

    Args:
        teacher: A functional ResNet (`imagenet_resnet(34)`, `(50)`, or a
            `keras.applications` ResNet).
        student: A functional ResNet (e.g. `imagenet_resnet(18)`).
        group_size: Teacher taps per student tap (the paper's k).

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
