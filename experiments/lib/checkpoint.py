"""`TrainingCheckpoint`: resumable, atomic, NaN-safe training checkpoints.

Why not Keras' `BackupAndRestore`, and how a run resumes: docs/reliability.md.
"""

import glob
import json
import logging
import os

import keras
import numpy as np

from kr_keras.export import atomic_path
from experiments.lib import io
from experiments.lib.guard import non_finite

STATE_FILE = "state.json"


def _finite_weights(model):
    return all(np.all(np.isfinite(np.asarray(v))) for v in model.weights)


class TrainingCheckpoint(keras.callbacks.Callback):
    """Saves everything needed to resume a `fit` at the exact batch.

    `model.save_weights` of the whole distiller (`ckpt-<step>.weights.h5`),
    then `state.json` (global step, epoch, batch, config fingerprint), both
    atomically; the previous checkpoint is deleted only after. Nothing is
    written when the batch's logs or the weights are not finite.

    Args:
        directory: Checkpoint directory (created).
        save_every_steps: Save period in global steps (also every epoch end).
        steps_per_epoch: Steps per epoch (to store epoch and batch).
        fingerprint: A string describing the run; `restore` refuses a
            checkpoint written by a run with another fingerprint.

    Example:

    ```python
    ckpt = TrainingCheckpoint("ckpt/", save_every_steps=100, steps_per_epoch=390)
    step = ckpt.restore(model)   # 0 when there is nothing to resume
    ```
    """

    def __init__(self, directory, save_every_steps, steps_per_epoch, fingerprint=""):
        if save_every_steps < 1:
            raise ValueError(
                f"`save_every_steps` must be >= 1. Received: save_every_steps={save_every_steps}"
            )
        super().__init__()
        self.directory = os.fspath(directory)
        self.save_every_steps = int(save_every_steps)
        self.steps_per_epoch = int(steps_per_epoch)
        self.fingerprint = fingerprint
        self.step = 0
        self._saved_step = None

    @property
    def state_path(self):
        return os.path.join(self.directory, STATE_FILE)

    def restore(self, model):
        """Loads the latest checkpoint into `model`; returns its global step
        (0 when there is none)."""
        if not os.path.exists(self.state_path):
            self.step = 0
            return 0
        with open(self.state_path) as f:
            state = json.load(f)
        if self.fingerprint and state.get("fingerprint") != self.fingerprint:
            raise ValueError(
                "The checkpoint directory holds a run with another configuration; "
                "use another --checkpoint_dir or delete it to start afresh. "
                f"Received: checkpoint_dir={self.directory!r}"
            )
        model.load_weights(os.path.join(self.directory, state["weights"]))
        self.step = self._saved_step = int(state["step"])
        logging.info("Resumed from %s at step %d.", self.directory, self.step)
        return self.step

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.save_every_steps == 0:
            self.save(logs)

    def on_epoch_end(self, epoch, logs=None):
        if self._saved_step != self.step:
            self.save(logs)

    def save(self, logs=None):
        """Writes a checkpoint of the current step (skipped when not finite)."""
        if non_finite(logs) or not _finite_weights(self.model):
            logging.warning("Step %d is not finite; checkpoint not written.", self.step)
            return False
        os.makedirs(self.directory, exist_ok=True)
        name = f"ckpt-{self.step}.weights.h5"
        path = os.path.join(self.directory, name)
        with atomic_path(path, suffix=".weights.h5") as tmp:
            self.model.save_weights(tmp)
        epoch, batch = divmod(self.step, self.steps_per_epoch)
        state = {
            "step": self.step,
            "epoch": epoch,
            "batch": batch,
            "weights": name,
            "fingerprint": self.fingerprint,
        }
        io.write_text(self.state_path, json.dumps(state, indent=1))
        for old in glob.glob(os.path.join(self.directory, "ckpt-*.weights.h5")):
            if os.path.basename(old) != name:
                os.remove(old)
        self._saved_step = self.step
        return True
