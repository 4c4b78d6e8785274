"""`NonFiniteGuard`: stop training on the first non-finite loss, saying which."""

import math

import keras

# The loss terms of the distillers' metrics dict, in the order they are
# computed; the first non-finite one is named as the culprit.
LOSS_TERMS = ("student_loss", "knowledge_loss", "prior_loss", "distillation_loss", "loss")


def non_finite(logs):
    """The `(name, value)` entries of `logs` that are not finite, loss terms
    first (in `LOSS_TERMS` order); entries that are not numbers are skipped."""
    logs = logs or {}
    bad = []
    for name in LOSS_TERMS + tuple(k for k in logs if k not in LOSS_TERMS):
        if name in logs:
            try:
                value = float(logs[name])
            except (TypeError, ValueError):
                continue
            if not math.isfinite(value):
                bad.append((name, value))
    return bad


class NonFiniteLossError(ValueError):
    """Raised by `NonFiniteGuard`; a `ValueError` so binaries report it in one line."""


class NonFiniteGuard(keras.callbacks.Callback):
    """Raises `NonFiniteLossError` when a batch reports a non-finite loss.

    Unlike `keras.callbacks.TerminateOnNaN`, the message names the global
    step and the bad loss term(s) (`LOSS_TERMS`). Raising stops `fit` before
    any later callback runs: place it before `TrainingCheckpoint`.

    Args:
        initial_step: Global step at the start of this `fit` (resumes).
        checkpoint_dir: Named in the message when given.

    Example:

    ```python
    model.fit(ds, callbacks=[NonFiniteGuard(), TrainingCheckpoint(...)])
    ```
    """

    def __init__(self, initial_step=0, checkpoint_dir=None):
        super().__init__()
        self.step = int(initial_step)
        self.checkpoint_dir = checkpoint_dir

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        bad = non_finite(logs)
        if bad:
            first, value = bad[0]
            others = ", ".join(f"{n}={v}" for n, v in bad[1:])
            kept = (
                f" The last good checkpoint in {self.checkpoint_dir!r} is kept."
                if self.checkpoint_dir else ""
            )
            raise NonFiniteLossError(
                f"Non-finite {first}={value} at step {self.step} (batch {batch} of this "
                f"epoch){'; also ' + others if others else ''}. Training stopped.{kept} "
                "Lower the learning rate(s) or check the inputs (--check_numerics)."
            )
