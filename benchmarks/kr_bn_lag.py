"""Where do a student's batch-norm moving statistics lag its weights?

Trains the same student (same seed, data order and learning rate) as the
student alone (`kr` at mu = 0, which is `ce`) and with KR's prior term, and
every `--every` steps measures, for each BatchNormalization layer of the
student, how far its moving statistics are from the statistics of a fixed
probe batch: `|moving_mean - batch_mean| / batch_std` and
`|log(moving_var / batch_var)| / 2`, averaged over channels. Layers feeding
KR's taps (the block outputs) are marked. Also the probe accuracy with batch
minus moving statistics.

    python benchmarks/kr_bn_lag.py --teacher=saved_models/demo_teacher_29b352ba5d26.keras

Writes `results/benchmarks/kr_bn_lag.md` (`--out`).
"""

import os
import sys
import time

import numpy as np
from absl import app
from absl import flags

import step_timing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TEACHER = flags.DEFINE_string("teacher", "saved_models/demo_teacher_29b352ba5d26.keras",
                               "Trained teacher (.keras).")
_MU = flags.DEFINE_list("mu", ["0", "0.1", "1"], "Prior weights (0: the student alone).")
_STEPS = flags.DEFINE_integer("steps", 90, "Training steps.", lower_bound=1)
_EVERY = flags.DEFINE_integer("every", 30, "Steps between measurements.", lower_bound=1)
_LR = flags.DEFINE_float("lr", 0.05, "Student SGD learning rate.", lower_bound=0.0)
_WARMUP = flags.DEFINE_integer("prior_warmup_steps", 0, "KR's linear ramp of mu (0: none).",
                               lower_bound=0)
_OUT = flags.DEFINE_string("out", os.path.join(ROOT, "results", "benchmarks", "kr_bn_lag.md"),
                           "Markdown file.")


def probe_gap(student, probe_x, probe_y):
    """Probe accuracy with batch minus with moving BN statistics; the
    moving statistics are left as they were (a training-mode call moves them)."""
    saved = [(v, v.numpy()) for v in student.non_trainable_variables]
    batch = np.mean(np.argmax(student(probe_x, training=True), -1) == probe_y)
    for v, value in saved:
        v.assign(value)
    return float(batch - np.mean(np.argmax(student(probe_x, training=False), -1) == probe_y))


def lags(student, probe):
    """Per BN layer: (name, mean lag, variance lag) against the probe batch."""
    import keras
    import tensorflow as tf

    layers = [l for l in student.layers if isinstance(l, keras.layers.BatchNormalization)]
    # Each layer's input as training sees it (earlier layers on batch
    # statistics), the moving statistics restored after the call.
    saved = [(v, v.numpy()) for v in student.non_trainable_variables]
    inputs = keras.Model(student.inputs, [l.input for l in layers])(probe, training=True)
    for v, value in saved:
        v.assign(value)
    rows = []
    for layer, x in zip(layers, inputs):
        mean, var = tf.nn.moments(tf.cast(x, tf.float32), axes=[0, 1, 2])
        std = tf.sqrt(var + layer.epsilon)
        mean_lag = tf.reduce_mean(tf.abs(layer.moving_mean - mean) / std)
        var_lag = tf.reduce_mean(tf.abs(tf.math.log((layer.moving_variance + layer.epsilon)
                                                    / (var + layer.epsilon)))) / 2
        rows.append((layer.name, float(mean_lag), float(var_lag)))
    return rows


def main(argv):
    del argv
    import keras
    import tensorflow as tf

    import kr_keras

    ds = kr_keras.data.load("fashion_mnist", "train", batch_size=128, augment=False,
                            shuffle=True, seed=0, take=128 * _STEPS.value)
    probe_x, probe_y = next(iter(kr_keras.data.load("fashion_mnist", "test", batch_size=512,
                                                    shuffle=False, augment=False)))
    teacher = keras.models.load_model(_TEACHER.value)
    taps = None
    table = {}
    for mu in (float(m) for m in _MU.value):
        keras.utils.set_random_seed(0)
        student = kr_keras.models.cifar_resnet(8, width_multiplier=0.75, input_shape=(28, 28, 1))
        distiller = kr_keras.build_distiller("kr", teacher, student, mu=mu,
                                             prior_warmup_steps=_WARMUP.value)
        distiller.compile(optimizer=keras.optimizers.SGD(_LR.value, momentum=0.9))
        taps = distiller.kr.student_layer_name
        for step, (x, y) in enumerate(ds):
            distiller.train_on_batch(x, y)
            if (step + 1) % _EVERY.value == 0:
                gap = probe_gap(student, probe_x, probe_y)
                table[(mu, step + 1)] = (lags(student, probe_x), gap)
                print(f"mu {mu:g} step {step + 1}: BN gap {gap:+.3f}", flush=True)
    # Layers whose output feeds a tapped block output (bn2 and the projection's BN).
    fed = {n.replace("_out", "_bn2") for n in taps} | {n.replace("_out", "_proj_bn") for n in taps}
    lines = ["# Where the student's BN moving statistics lag (KR vs the student alone)", "",
             f"Command: `python benchmarks/kr_bn_lag.py {' '.join(sys.argv[1:])}`"
             f" ({time.strftime('%Y-%m-%d %H:%M')}).  ",
             f"Student ResNet-8x0.75 on Fashion-MNIST, SGD lr {_LR.value:g} momentum 0.9, "
             "seed 0 (same initial weights and data order for every mu; mu = 0 is the "
             "student alone); probe: the first 512 test images. Lag of a BN layer: "
             "channel mean of |moving mean - probe mean| / probe std (mean) and "
             "|log(moving var / probe var)| / 2 (var). `*`: the layer feeds a KR tap "
             "(a block output).", "",
             "| mu | step | probe acc. batch - moving BN | mean lag: tap-fed / other layers "
             "| var lag: tap-fed / other | largest mean lag |", "|---:|---:|---:|---|---|---|"]
    for (mu, step), (rows, gap) in table.items():
        tap_rows = [r for r in rows if r[0] in fed]
        other = [r for r in rows if r[0] not in fed]
        worst = max(rows, key=lambda r: r[1])
        lines.append(
            f"| {mu:g} | {step} | {gap:+.3f} | {np.mean([r[1] for r in tap_rows]):.3f} / "
            f"{np.mean([r[1] for r in other]):.3f} | {np.mean([r[2] for r in tap_rows]):.3f} / "
            f"{np.mean([r[2] for r in other]):.3f} | {worst[0]}{'*' if worst[0] in fed else ''} "
            f"{worst[1]:.3f} |")
    step_timing.write_report(_OUT.value, lines)


if __name__ == "__main__":
    app.run(main)
