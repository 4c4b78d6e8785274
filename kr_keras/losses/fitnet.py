"""FitNet hints: regress the teacher's hint layer from a student layer.

Reference: Romero, Ballas, Kahou, Chassang, Gatta and Bengio, "FitNets:
Hints for Thin Deep Nets", ICLR 2015 (paper ref. [26]); RepDistiller
`distiller_zoo/FitNet.py` (`HintLoss`) with `models/util.py` (`ConvReg`).
Defaults and reading: docs/methods.md, "Methods".
"""

import keras
import tensorflow as tf

from kr_keras.layers.hint_regressor import HintRegressor
from kr_keras.layers.hint_regressor import regressor_arguments
from kr_keras.losses.common import paired_losses
from kr_keras.losses.common import HelperLoss
from kr_keras.losses.common import scale_for_replicas

DEFAULTS = {"teacher_layers": None, "student_layers": None, "student_loss_weight": 1.0,
            "distillation_loss_weight": 100.0}


def fitnet_loss(student_hint, teacher_hint):
    """`mean((r(s) - t)**2)`, the student map already passed through the
    learned regressor `r` (`kr_keras.layers.HintRegressor`).

    Args:
        student_hint: Regressed student map, the teacher hint's shape.
        teacher_hint: Teacher hint map.

    Returns:
        A scalar float32 tensor.

    Example:

    >>> float(fitnet_loss(tf.ones([1, 2, 2, 3]), tf.zeros([1, 2, 2, 3])))
    1.0
    """
    if tuple(student_hint.shape[1:]) != tuple(teacher_hint.shape[1:]):
        raise ValueError(
            "Regress the student map to the hint's shape first (see "
            "kr_keras.layers.HintRegressor.for_shapes). Received: "
            f"student_hint.shape={tuple(student_hint.shape)}, "
            f"teacher_hint.shape={tuple(teacher_hint.shape)}"
        )
    diff = tf.cast(student_hint, tf.float32) - tf.cast(teacher_hint, tf.float32)
    return tf.reduce_mean(tf.square(diff))


@keras.saving.register_keras_serializable(package="kr_keras")
class FitNetDistillation(HelperLoss):
    """FitNet as a `keras.distillation.DistillationLoss` that owns its regressor.

    `compute_loss(teacher_map, student_map)` is `fitnet_loss(regressor(
    student_map), teacher_map)`; the regressor trains on the student's
    objective (docs/methods.md, "Inside keras.distillation.Distiller").

    Args:
        teacher_layer_name: Name of the teacher's hint layer.
        student_layer_name: Name of the student's guided layer.
        **kwargs: Base layer keyword arguments.

    Example:

    ```python
    distiller = keras.distillation.Distiller(
        teacher, student,
        distillation_losses=[kr_keras.losses.FitNetDistillation(
            "stage2_block3_out", "stage2_block1_out")],
        distillation_loss_weights=[100.0])
    ```
    """

    def build_helpers(self, teacher_shape, student_shape):
        self.regressor = HintRegressor.for_shapes(student_shape, teacher_shape, name="regressor")

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        hint = self.regressor(student_outputs, training=kwargs.get("training", True))
        return scale_for_replicas(fitnet_loss(hint, teacher_outputs))


def _check(t_shape, s_shape):
    if regressor_arguments(s_shape, t_shape) is None:  # RepDistiller's ConvReg cases
        return "its regressor needs a student map at least the hint's size, or half of it"
    return None


def build_losses(teacher, student, teacher_layers, student_layers,
                 distillation_loss_weight):
    """One `FitNetDistillation` per (hint, guided) pair (default: the middle stage ends)."""
    return paired_losses(FitNetDistillation, distillation_loss_weight, "FitNet", teacher,
                         student, teacher_layers, student_layers, kind="middle",
                         check=_check, sized=True)
