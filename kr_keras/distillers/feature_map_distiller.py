"""`FeatureMapDistiller`: a sum of one map loss over tapped layer pairs."""

from kr_keras.distillers.base import BaseDistiller
from kr_keras.distillers.base import stage_end_names


class FeatureMapDistiller(BaseDistiller):
    """Base of AT and NST: `sum_i loss_fn(s_i, t_i)` over paired taps.

    Taps default to the stage ends of both networks (RepDistiller's
    `feat[1:-1]`); the counts must match.
    """

    def __init__(self, teacher, student, teacher_layers=None,
                 student_layers=None, **kwargs):
        teacher_layers = list(teacher_layers or stage_end_names(teacher))
        student_layers = list(student_layers or stage_end_names(student))
        if len(teacher_layers) != len(student_layers):
            raise ValueError(
                "Pair one teacher tap with each student tap: pass as many "
                "teacher_layers as student_layers. Received: "
                f"teacher_layers={teacher_layers}, "
                f"student_layers={student_layers}"
            )
        super().__init__(teacher, student, teacher_layers=teacher_layers,
                         student_layers=student_layers, **kwargs)

    def feature_loss(self, student_feature, teacher_feature):
        """The loss of one pair of maps."""
        raise NotImplementedError

    def distillation_loss(self, teacher_logits, teacher_features,
                          student_logits, student_features, training):
        return sum(self.feature_loss(s, t)
                   for s, t in zip(student_features, teacher_features))
