"""Flow of solution procedure (FSP): match Gram matrices between layers.

Reference: Yim, Joo, Bae and Kim, "A Gift from Knowledge Distillation: Fast
Optimization, Network Minimization and Transfer Learning", CVPR 2017 (paper
ref. [34]); RepDistiller `distiller_zoo/FSP.py` (`FSP`), whose form is
followed here.
"""

import tensorflow as tf

from kr_keras.losses.spatial import match_spatial


def fsp_matrix(f1, f2):
    """The FSP matrix `G[b, i, j] = mean_{h,w} f1[b,h,w,i] * f2[b,h,w,j]`.

    The larger map is average-pooled to the smaller one's size first (the
    paper pairs maps of equal size; RepDistiller pools across a stride).

    Args:
        f1: `[batch, h, w, c1]` map at the start of a section.
        f2: `[batch, h', w', c2]` map at its end.

    Returns:
        A `[batch, c1, c2]` float32 tensor.
    """
    f1, f2 = match_spatial(tf.cast(f1, tf.float32), tf.cast(f2, tf.float32))
    area = tf.cast(tf.shape(f1)[1] * tf.shape(f1)[2], tf.float32)
    return tf.einsum("bhwi,bhwj->bij", f1, f2) / area


def check_fsp_channels(student_channels, teacher_channels):
    """Raises unless paired maps have equal channel counts."""
    s_channels = [int(c) for c in student_channels]
    t_channels = [int(c) for c in teacher_channels]
    if s_channels != t_channels:
        raise ValueError(
            "FSP compares Gram matrices entry-wise, so each student map needs "
            "its teacher map's channel count: tap layers of equal width or "
            "use a student as wide as the teacher (RepDistiller raises here "
            f"too). Received: student channels {s_channels}, teacher "
            f"channels {t_channels}"
        )


def fsp_loss(student_features, teacher_features):
    """Sum over consecutive pairs of `mean((G_s - G_t)**2)`.

    `student_features[i]`, `student_features[i + 1]` give the student's
    `i`-th FSP matrix (likewise for the teacher): pass the section
    boundaries in order (for CIFAR ResNets, the stem and the three stage
    outputs, as RepDistiller does). The paper weighs every pair equally
    and sums squared entries; RepDistiller (followed here) averages them.
    FSP compares matrices entry-wise, so paired student and teacher maps
    must have the same channel counts.

    Args:
        student_features: List of >= 2 student maps.
        teacher_features: List of as many teacher maps.

    Returns:
        A scalar float32 tensor.

    Example:

    >>> fs = [tf.random.normal([2, 8, 8, 4]), tf.random.normal([2, 4, 4, 8])]
    >>> float(fsp_loss(fs, fs))
    0.0
    """
    if len(student_features) != len(teacher_features) or len(student_features) < 2:
        raise ValueError(
            "FSP needs the same number (>= 2) of student and teacher maps, "
            "the section boundaries in order. Received: "
            f"{len(student_features)} student and {len(teacher_features)} "
            "teacher maps"
        )
    check_fsp_channels([f.shape[-1] for f in student_features],
                       [f.shape[-1] for f in teacher_features])
    total = 0.0
    for i in range(len(student_features) - 1):
        g_s = fsp_matrix(student_features[i], student_features[i + 1])
        g_t = fsp_matrix(teacher_features[i], teacher_features[i + 1])
        total += tf.reduce_mean(tf.square(g_s - tf.stop_gradient(g_t)))
    return total
