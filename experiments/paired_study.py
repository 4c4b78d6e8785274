r"""KR against its controls: paired seeds, equal tuning budgets, one teacher.

Every method's candidates are chosen on a validation split from seed 0's
runs; the chosen ones run `--seeds` seeds and each KR row is compared with
its control by the paired test-accuracy difference (mean, 95% t-interval,
verdict). Runs are cached in `<out>.runs.csv`; `<out>.md` is rewritten
after every run. The design: docs/experiments.md, "paired_study"; the
results: docs/results.md.

Usage:

    python -m experiments.paired_study                 # all stages, resumes
    python -m experiments.paired_study --stage=report  # tables from the cache
"""

import csv
import json
import math
import os
import statistics
import sys
import time

from absl import app
from absl import flags

from experiments.lib import io
from experiments.lib.stats import control_of
from experiments.lib.stats import t_interval
from experiments.lib.stats import verdict
from experiments.lib.distillers import takes_knowledge_optimizer

_TEACHER = flags.DEFINE_string("teacher", "saved_models/demo_teacher_29b352ba5d26.keras",
                               "Trained teacher (.keras).")
_TRAIN = flags.DEFINE_integer("train_examples", 20000, "Training images (the first ones).", lower_bound=1)
_VAL = flags.DEFINE_integer("val_examples", 5000, "Validation images (the last training ones).", lower_bound=1)
_EPOCHS = flags.DEFINE_integer("epochs", 3, "Epochs per run.", lower_bound=1)
_BATCH = flags.DEFINE_integer("batch_size", 128, "Batch size.", lower_bound=1)
_WIDTH = flags.DEFINE_float("student_width", 0.75, "Width multiplier of the ResNet-8 student.",
                            lower_bound=1e-3)
_SEEDS = flags.DEFINE_integer("seeds", 5, "Test seeds per method (0 .. seeds-1).", lower_bound=1)
_KNOWLEDGE_LR = flags.DEFINE_float("knowledge_lr", 0.1, "KR aggregators' learning rate.",
                                   lower_bound=1e-9)
_PRECISE_BN = flags.DEFINE_integer("precise_bn_samples", 2048,
                                   "Images to re-estimate BN statistics on (0: off).",
                                   lower_bound=0)
_AUGMENT = flags.DEFINE_bool("augment", False,
                             "The dataset's training augmentation (pad, crop, flip), seeded.")
_DISTORTION = flags.DEFINE_float("distortion_sigma", 0.0,
                                 "Fixed Gaussian distortion of train and test images (the "
                                 "T-CIFAR100 reading), in the normalised space.", lower_bound=0.0)
_GRID = flags.DEFINE_enum("grid", "tuned", ["tuned", "paper"],
                          "'tuned': 6 candidates per method chosen on validation; 'paper': "
                          "one setting per method, the paper's (student lr 0.01, mu 0.1).")
_METHODS = flags.DEFINE_list("methods", ["ce", "kd", "kr", "kr+kd", "kr_dense"],
                             "Methods, in the order they are selected and run.")
_STAGE = flags.DEFINE_enum("stage", "all", ["select", "test", "all", "report"], "What to run.")
_OUT = flags.DEFINE_string("out", "results/paired_study", "Prefix of the .md and .runs.csv.")

FIELDS = ("stage", "method", "config", "seed", "teacher", "val_accuracy", "test_accuracy",
          "test_accuracy_moving_bn", "seconds", "precise_bn")

# Six candidates per method (equal budgets). KR's are at CE's chosen
# learning rate, KR + KD's at KD's chosen setting: the controls.
GRIDS = {
    "ce": [{"lr": lr} for lr in (0.0125, 0.025, 0.05, 0.1, 0.2, 0.4)],
    "kd": [{"lr": lr, "temperature": 4.0, "distillation_loss_weight": w,
            "student_loss_weight": round(1.0 - w, 3)}
           for lr in (0.05, 0.1, 0.2) for w in (0.9, 0.5)],
    "kr": [{"mu": mu, "gamma": g} for mu in (0.01, 0.03, 0.1) for g in (0.0, 1.0)],
    "kr_dense": [{"mu": mu, "gamma": g} for mu in (0.01, 0.03, 0.1) for g in (0.0, 1.0)],
    "kr_weights": [{"mu": mu, "gamma": g} for mu in (0.01, 0.03, 0.1) for g in (0.0, 1.0)],
    "kr+kd": [{"mu": mu} for mu in (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)],
}
# The paper's CIFAR settings (Sec. 4.1): one candidate per method.
PAPER = {"ce": [{"lr": 0.01}],
         "kd": [{"lr": 0.01, "temperature": 4.0, "distillation_loss_weight": 0.9,
                 "student_loss_weight": 0.1}],
         "kr": [{"mu": 0.1, "gamma": 1.0}], "kr_dense": [{"mu": 0.1, "gamma": 1.0}],
         "kr_weights": [{"mu": 0.1, "gamma": 1.0}],
         "kr+kd": [{"mu": 0.1}]}
# KR runs start from their control's chosen setting.
BASE = {m: control_of(m) for m in ("kr", "kr_dense", "kr_weights", "kr+kd")}
COMPARISONS = [("kd", "ce"), ("kr", "ce"), ("kr_dense", "ce"), ("kr", "kr_dense"),
               ("kr_weights", "ce"), ("kr_weights", "kr_dense"), ("kr_weights", "kr"),
               ("kr+kd", "kd"), ("kr+kd", "ce")]
# The readings of SRP against each other and against no SRP, on validation.
SRP_COMPARISONS = [("kr", "kr_dense"), ("kr_weights", "kr_dense"), ("kr_weights", "kr")]


class Study:
    """Data, teacher and the run cache of one study."""

    def __init__(self):
        import keras
        import numpy as np

        from kr_keras import data
        from kr_keras.models.fingerprint import weights_fingerprint

        def arrays(split):
            ds = data.load("fashion_mnist", split, batch_size=4096, augment=False,
                           shuffle=False, seed=0, distortion_sigma=_DISTORTION.value)
            xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
            return np.concatenate(xs), np.concatenate(ys)

        x, y = arrays("train")
        if _TRAIN.value + _VAL.value > len(x):
            raise ValueError(f"train_examples + val_examples exceed the {len(x)} training "
                             f"images. Received: {_TRAIN.value} + {_VAL.value}")
        self.train = (x[:_TRAIN.value], y[:_TRAIN.value])
        self.val = (x[-_VAL.value:], y[-_VAL.value:])
        self.test = arrays("test")
        self.teacher = keras.models.load_model(_TEACHER.value)
        self.fingerprint = weights_fingerprint(self.teacher)[:16]
        self.path = _OUT.value + ".runs.csv"
        self.rows = []
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.rows = list(csv.DictReader(f))
        other = {r["teacher"] for r in self.rows} - {self.fingerprint}
        if other:
            raise ValueError(f"{self.path} holds runs of another teacher {sorted(other)}; "
                             f"this teacher is {self.fingerprint}. Use another --out.")

    def find(self, method, config, seed):
        """The cached run of `config` and `seed` (a test seed 0 is its selection run)."""
        key = (method, json.dumps(config, sort_keys=True), str(seed))
        return next((r for r in self.rows if (r["method"], r["config"], r["seed"]) == key), None)

    def run(self, stage, method, config, seed):
        """One student (cached): its validation, test and moving-BN test accuracy."""
        row = self.find(method, config, seed)
        if row is not None:
            return row
        import keras
        import numpy as np
        import tensorflow as tf

        import kr_keras
        from kr_keras.callbacks import recompute_batch_norm_statistics

        x, y = self.train
        keras.utils.set_random_seed(seed)  # the student's init and the data order
        student = kr_keras.models.cifar_resnet(8, width_multiplier=_WIDTH.value,
                                               input_shape=x.shape[1:])
        hparams = {k: v for k, v in config.items() if k != "lr"}
        distiller = kr_keras.build_distiller(method, self.teacher, student, **hparams)
        steps = _EPOCHS.value * math.ceil(len(x) / _BATCH.value)

        def sgd(lr, nesterov):
            return keras.optimizers.SGD(keras.optimizers.schedules.CosineDecay(lr, steps),
                                        momentum=0.9, nesterov=nesterov)
        extra = ({"auxiliary_optimizer": sgd(_KNOWLEDGE_LR.value, False)}
                 if takes_knowledge_optimizer(distiller) else {})
        distiller.compile(optimizer=sgd(config["lr"], True), **extra)

        def batches():
            if _AUGMENT.value:  # the first train_examples images, seeded order and crops
                return kr_keras.data.load("fashion_mnist", "train", _BATCH.value, augment=True,
                                          shuffle=True, seed=seed, take=_TRAIN.value,
                                          distortion_sigma=_DISTORTION.value)
            return (tf.data.Dataset.from_tensor_slices((x, y))
                    .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
                    .batch(_BATCH.value))
        start = time.time()
        distiller.fit(batches(), epochs=_EPOCHS.value, verbose=0)
        seconds = time.time() - start

        def accuracy(images, labels):
            logits = student.predict(images, batch_size=1024, verbose=0)
            return float(np.mean(np.argmax(logits, -1) == labels))
        moving = accuracy(*self.test)
        if _PRECISE_BN.value:
            recompute_batch_norm_statistics(student, batches(), _PRECISE_BN.value)
        row = {"stage": stage, "method": method, "config": json.dumps(config, sort_keys=True),
               "seed": seed, "teacher": self.fingerprint,
               "val_accuracy": f"{accuracy(*self.val):.4f}",
               "test_accuracy": f"{accuracy(*self.test):.4f}",
               "test_accuracy_moving_bn": f"{moving:.4f}",
               "seconds": f"{seconds:.0f}", "precise_bn": _PRECISE_BN.value}
        io.append_csv_row(self.path, FIELDS, row)
        row = {k: str(v) for k, v in row.items()}
        self.rows.append(row)
        print(f"{stage} {method} {row['config']} seed {seed}: val {row['val_accuracy']} "
              f"test {row['test_accuracy'] or '-'} ({row['seconds']} s)", flush=True)
        return row


def candidates(method, chosen):
    """The method's candidates, each completed with its base's chosen setting."""
    base = chosen.get(BASE.get(method), {})
    return [{**base, **c} for c in (GRIDS if _GRID.value == "tuned" else PAPER)[method]]


def choose(study, method, chosen):
    """The candidate with the best validation accuracy (seed 0), or `None`
    while some candidate has not run."""
    rows = [study.find(method, c, 0) for c in candidates(method, chosen)]
    if any(r is None for r in rows):
        return None
    best = max(range(len(rows)), key=lambda i: float(rows[i]["val_accuracy"]))
    return candidates(method, chosen)[best]


def chosen_settings(study):
    chosen = {}
    for method in _METHODS.value:
        if BASE.get(method) in _METHODS.value and BASE[method] not in chosen:
            continue
        config = choose(study, method, chosen)
        if config is not None:
            chosen[method] = config
    return chosen


def report(study):
    chosen = chosen_settings(study)
    lines = ["# KR against its controls: paired seeds, equal tuning budgets", "",
             "Written by `python -m experiments.paired_study " + " ".join(sys.argv[1:]) + "`"
             f" ({time.strftime('%Y-%m-%d %H:%M')}).  ",
             f"Teacher `{_TEACHER.value}` (weights fingerprint `{study.fingerprint}`); "
             f"student ResNet-8x{_WIDTH.value:g}; Fashion-MNIST"
             + (f" with Gaussian distortion sigma {_DISTORTION.value:g}" if _DISTORTION.value else "")
             + (", augmented (pad, crop, flip)" if _AUGMENT.value else "")
             + f", the first {_TRAIN.value} "
             f"training images, {_EPOCHS.value} epochs, batch {_BATCH.value}, SGD with "
             "Nesterov momentum 0.9 and cosine decay; validation: the last "
             f"{_VAL.value} training images; test: the 10,000 test images. BN statistics "
             f"re-estimated on {_PRECISE_BN.value} training images before every "
             "evaluation.", "", f"## Selection (seed 0, validation accuracy, {_GRID.value} grid)",
             "", "| method | candidate | val accuracy | chosen |", "|---|---|---:|:---:|"]
    for method in _METHODS.value:
        if BASE.get(method) and BASE[method] not in chosen:
            continue
        for config in candidates(method, chosen):
            row = study.find(method, config, 0)
            mark = "yes" if chosen.get(method) == config else ""
            lines.append(f"| {method} | `{json.dumps(config, sort_keys=True)}` | "
                         f"{row['val_accuracy'] if row else '(to run)'} | {mark} |")
    tests = {m: {int(r["seed"]): r for r in study.rows if r["method"] == m
                 and r["config"] == json.dumps(c, sort_keys=True)} for m, c in chosen.items()}
    lines += ["", "## Test accuracy per seed (chosen settings)", "",
              "| method | " + " | ".join(f"seed {s}" for s in range(_SEEDS.value))
              + " | mean | seed std | moving-BN mean |", "|---|" + "---:|" * (_SEEDS.value + 3)]
    for method, runs in tests.items():
        values = [runs[s]["test_accuracy"] if s in runs else "" for s in range(_SEEDS.value)]
        done = [float(v) for v in values if v]
        moving = [float(r["test_accuracy_moving_bn"]) for r in runs.values()]
        lines.append(f"| {method} | " + " | ".join(values) + " | "
                     + (f"{100 * sum(done) / len(done):.2f}" if done else "") + " | "
                     + (f"{100 * statistics.stdev(done):.2f}" if len(done) > 1 else "") + " | "
                     + (f"{100 * sum(moving) / len(moving):.2f}" if moving else "") + " |")
    for split, note in (("test", ""), ("val", "; seeds after 0, which chose the settings; "
                                               "SRP's readings are compared on these")):
        rows = []
        for a, b in COMPARISONS if split == "test" else SRP_COMPARISONS:
            seeds = sorted(set(tests.get(a, {})) & set(tests.get(b, {})))
            if split == "val":  # seed 0's validation score chose the settings
                seeds = [s for s in seeds if s != 0]
            if not seeds:
                continue
            diffs = [100 * (float(tests[a][s][f"{split}_accuracy"])
                            - float(tests[b][s][f"{split}_accuracy"])) for s in seeds]
            mean, low, high = t_interval(diffs)
            interval = "-" if low is None else f"[{low:+.2f}, {high:+.2f}]"
            rows.append(f"| {a} - {b} | {len(seeds)} | {mean:+.2f} | {interval} | "
                        f"{verdict(a, b, diffs)} |")
        if rows:
            lines += ["", f"## Paired differences ({split} accuracy, points; 95% t-interval"
                      f"{note})", "", "| comparison | seeds | mean | 95% interval | verdict |",
                      "|---|---:|---:|---|---|", *rows]
    lines += ["", "Controls: `kr` at mu = 0 is `ce` and `kr+kd` at mu = 0 is `kd` with the same "
              "weights (bit-identical students, `tests/test_losses_kr.py::"
              "test_kr_at_mu_zero_trains_the_student_exactly_as_its_control`), so each KR row "
              "is compared with the row whose setting it starts from."]
    with open(_OUT.value + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv):
    del argv
    study = Study()
    if _STAGE.value in ("select", "all"):
        for method in _METHODS.value:
            chosen = chosen_settings(study)
            if BASE.get(method) in _METHODS.value and BASE[method] not in chosen:
                raise ValueError(f"{method} needs {BASE[method]} selected first: list it earlier "
                                 f"in --methods. Received: methods={_METHODS.value}")
            for config in candidates(method, chosen):
                study.run("select", method, config, 0)
                report(study)
    if _STAGE.value in ("test", "all"):
        chosen = chosen_settings(study)
        for seed in range(_SEEDS.value):  # seed by seed: partial tables stay paired
            for method in _METHODS.value:
                if method in chosen:
                    study.run("test", method, chosen[method], seed)
                    report(study)
    report(study)
    print(open(_OUT.value + ".md").read())


if __name__ == "__main__":
    app.run(main)
