"""The baseline: the student trained alone with cross-entropy ("ce")."""

import keras

from kr_keras.distillers.registry import register


@keras.saving.register_keras_serializable(package="kr_keras")
class StudentAlone(keras.Model):
    """Trains `student` on the labels alone; the teacher is ignored.

    Exists so that the "student alone" row of every table goes through the
    same `build_distiller` / `compile` / `fit` path as the distillers.

    Args:
        student: A functional `keras.Model` returning logits.
        name: Model name.

    Example:

    ```python
    baseline = kr_keras.build_distiller("ce", teacher, student)
    baseline.compile(optimizer="sgd", metrics=["accuracy"])
    baseline.fit(train_ds, epochs=1)
    ```
    """

    def __init__(self, student, name="student_alone", **kwargs):
        super().__init__(name=name, **kwargs)
        self.student = student

    def compile(self, optimizer="sgd", loss=None, metrics=None, **kwargs):
        if loss is None:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def call(self, inputs, training=None):
        return self.student(inputs, training=training)

    def get_config(self):
        base_config = super().get_config()
        return {
            **base_config,
            "student": keras.saving.serialize_keras_object(self.student),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["student"] = keras.saving.deserialize_keras_object(config["student"])
        return cls(**config)


@register("ce", StudentAlone)
def build_student_alone(teacher, student, **hparams):
    """"ce": the student alone (cross-entropy on the labels)."""
    del teacher
    return StudentAlone(student, **hparams)
