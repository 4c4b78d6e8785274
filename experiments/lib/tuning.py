"""keras-tuner search over KR hyper-parameters (validation accuracy objective)."""

import dataclasses
import os

import keras_tuner as kt

from kr_keras import data
from experiments.lib import io, runtime
from experiments.lib.training import build_distillation, eval_pipeline, train_pipeline

ALGORITHMS = ("hyperband", "bayesian")
TUNED = ("mu", "gamma", "boost", "target_inactive", "student_lr")


def _config(base, hp):
    hparams = {
        "mu": hp.Float("mu", 0.01, 10.0, sampling="log"),
        "gamma": hp.Float("gamma", 0.0, 2.0),
        "boost": hp.Float("boost", 1.0, 4.0),
        "target_inactive": hp.Float("target_inactive", 0.1, 0.9),
    }
    return base.with_overrides(hparams=hparams,
                               student_lr=hp.Float("student_lr", 1e-3, 0.1, sampling="log"))


class KRHyperModel(kt.HyperModel):
    """Builds one distiller of `base` (a `DistillConfig`) per trial."""

    def __init__(self, base):
        super().__init__(name="kr")
        self.base = base

    def build(self, hp):
        distiller, self.steps_per_epoch, _ = build_distillation(_config(self.base, hp))
        return distiller

    def fit(self, hp, model, *args, **kwargs):
        base = self.base
        info = data.info(base.dataset)
        train = train_pipeline(base.dataset, base.batch_size, base.seed, base.train_take,
                               base.check_numerics, info.num_classes).repeat()
        val = eval_pipeline(base.dataset, base.batch_size, base.eval_take)
        kwargs.pop("validation_data", None)
        return model.fit(train, steps_per_epoch=self.steps_per_epoch, validation_data=val,
                         verbose=0, **kwargs)


def tune(base, algorithm="hyperband", max_trials=10, max_epochs=3, directory="tuning",
         project_name="kr", flagfile=None):
    """Searches `TUNED` for `base` (a `DistillConfig` whose method takes them).

    Args:
        base: `DistillConfig` of the run to tune (teacher, dataset, budget).
        algorithm: `"hyperband"` or `"bayesian"`.
        max_trials: Trials of the Bayesian search (Hyperband's count
            follows from `max_epochs`).
        max_epochs: Epochs of the longest trial.
        directory: keras-tuner's directory (trials resume from it).
        project_name: Sub-directory of the search.
        flagfile: Where to write the best trial's flags (`--flagfile`).

    Returns:
        `(best_values, flagfile)`.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"Unknown algorithm; use one of {ALGORITHMS}. Received: {algorithm!r}")
    runtime.configure(base.seed, base.deterministic, base.mixed_precision)
    io.check_teacher_path(base.teacher)
    common = dict(objective=kt.Objective("val_accuracy", direction="max"), directory=directory,
                  project_name=project_name, seed=base.seed, overwrite=False)
    hypermodel = KRHyperModel(dataclasses.replace(base, checkpoint_dir=None, log_dir=None))
    if algorithm == "hyperband":
        tuner = kt.Hyperband(hypermodel, max_epochs=max_epochs, factor=3, **common)
    else:
        try:
            tuner = kt.BayesianOptimization(hypermodel, max_trials=max_trials, **common)
        except ImportError as error:
            raise RuntimeError(f"{error} Or use --algorithm=hyperband.") from error
    tuner.search(epochs=max_epochs)
    best = tuner.get_best_hyperparameters(1)[0].values
    best = {k: best[k] for k in TUNED if k in best}
    flagfile = flagfile or os.path.join(directory, project_name, "best.flags")
    lines = [f"--method={base.method}"] + [f"--{k}={v:.6g}" for k, v in best.items()]
    io.write_text(flagfile, "\n".join(lines) + "\n")
    return best, flagfile
