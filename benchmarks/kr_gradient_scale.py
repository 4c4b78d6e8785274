"""How strong is KR's prior term next to the cross-entropy? Gradient norms.

Issue 13 asked what makes the prior term destabilise training: its gradient
scale relative to CE's. This script trains a KR student (by default the
first 2,000 Fashion-MNIST training images, ResNet-20 teacher ->
ResNet-8x0.25 student, SGD lr 0.1 cosine, 16 epochs) and, every
`--every` steps, on one fixed probe batch, takes the gradient of each term of
the student objective (paper Eq. 10) with respect to the student's weights,
separately:

- `ce`: the cross-entropy;
- `prior`: `mu * sum_j d(SRP(s_j), K_j)` (SRP's recoded gradient included);
- `kd`: Hinton's KD term at T = 4 (weight 1, as in `kr+kd`), for scale.

It reports `|g_prior| / |g_ce|`, `|g_kd| / |g_ce|` and the cosine of each with
the CE gradient, per `mu`. A ratio well above 1 means the prior, not the
labels, steers the student; a negative cosine means it pulls against them.

    python benchmarks/kr_gradient_scale.py --teacher=saved_models/demo_teacher_29b352ba5d26.keras

Writes `results/benchmarks/kr_gradient_scale.md` (`--out`). `--quick`: 256
images, 2 epochs, a 1-epoch teacher when none is given (smoke run; its
numbers mean nothing).
"""

import os
import sys

import numpy as np
from absl import app
from absl import flags

import keras
import tensorflow as tf

import kr_keras
from kr_keras.losses.kr import residual_distance
from kr_keras.losses.kr import to_measure
from kr_keras.losses.kd import kd_loss
from kr_keras.models import cifar_resnet

_TEACHER = flags.DEFINE_string("teacher", "", "A trained teacher .keras (e.g. the demo's).")
_MU = flags.DEFINE_list("mu", ["0", "0.1", "1.0"], "Prior weights to compare (0: the control).")
_EXAMPLES = flags.DEFINE_integer("train_examples", 2000, "Training subset.", lower_bound=128)
_EPOCHS = flags.DEFINE_integer("epochs", 16, "Epochs per run.", lower_bound=1)
_EVERY = flags.DEFINE_integer("every", 25, "Steps between measurements.", lower_bound=1)
_LR = flags.DEFINE_float("lr", 0.1, "Student SGD learning rate (cosine decay).", lower_bound=0.0)
_WIDTH = flags.DEFINE_float("width", 0.25, "Student width multiplier.", lower_bound=0.0)
_QUICK = flags.DEFINE_bool("quick", False, "Smoke run: 256 images, 2 epochs, every 2 steps.")
_OUT = flags.DEFINE_string("out", "results/benchmarks/kr_gradient_scale.md", "Markdown output.")

BATCH = 128


def _teacher(x, y):
    if _TEACHER.value:
        return keras.models.load_model(_TEACHER.value)
    print("No --teacher: training a ResNet-20 for 1 epoch on the subset (numbers are "
          "then only a smoke test).", flush=True)
    keras.utils.set_random_seed(0)
    teacher = cifar_resnet(20, input_shape=x.shape[1:])
    teacher.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    return teacher


def term_gradients(distiller, x, y):
    """Each term's gradient w.r.t. the student's weights, flattened."""
    kr = distiller.kr
    teacher_logits, teacher_features = distiller.teacher_forward(x)
    # The knowledge the student step sees: batch statistics, moving averages
    # and SRP thresholds left alone (a probe must not change the run).
    knowledge = kr.knowledge([teacher_features[n] for n in kr.teacher_layer_name],
                             training=True, update_statistics=False)
    variables = distiller.student_variables()
    statistics = [(v, v.numpy()) for v in distiller.student.non_trainable_variables]
    norm = kr.feature_normalization
    with tf.GradientTape(persistent=True) as tape:
        logits, features = distiller.student_forward(x, training=True)
        ce = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            y, logits, from_logits=True))
        prior, dense = 0.0, 0.0
        for j, (k_j, name) in enumerate(zip(knowledge, kr.student_layer_name)):
            residual = to_measure(features[name], norm) - tf.stop_gradient(to_measure(k_j, norm))
            dense += residual_distance(residual, norm)
            if kr.sparse:
                residual = kr.recoders[j](residual, residual, training=False)
            prior += residual_distance(residual, norm)
        # mu = 0 (the control run) still shows the direction of the term.
        weight = distiller.mu or 1.0
        prior, dense = weight * prior, weight * dense
        kd = kd_loss(teacher_logits, logits)
    grads = {}
    for name, value in (("ce", ce), ("prior", prior), ("dense", dense), ("kd", kd)):
        # (No `unconnected_gradients=ZERO`: it reads a Keras variable's
        # dtype as a tf.DType, and Keras 3's is a string.)
        parts = tape.gradient(value, variables)
        grads[name] = np.concatenate([
            np.zeros(int(np.prod(v.shape)), np.float32) if g is None
            else tf.reshape(g, [-1]).numpy() for g, v in zip(parts, variables)])
    del tape
    for v, value in statistics:  # BN's moving averages, as they were
        v.assign(value)
    return grads


def measure(teacher, x, y, mu, epochs, every):
    keras.utils.set_random_seed(0)
    student = cifar_resnet(8, width_multiplier=_WIDTH.value, input_shape=x.shape[1:])
    distiller = kr_keras.KRDistiller(teacher, student, group_size=3, mu=mu)
    steps = epochs * (len(x) // BATCH)
    distiller.compile(
        optimizer=keras.optimizers.SGD(
            keras.optimizers.schedules.CosineDecay(_LR.value, steps), momentum=0.9,
            nesterov=True),
        auxiliary_optimizer=keras.optimizers.SGD(
            keras.optimizers.schedules.CosineDecay(0.1, steps), momentum=0.9))
    probe_x, probe_y = tf.constant(x[:BATCH]), tf.constant(y[:BATCH])
    rows = []
    rng = np.random.default_rng(0)
    step, logs = 0, {}
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x) - BATCH + 1, BATCH):
            if step % every == 0 or step == steps - 1:
                g = term_gradients(distiller, probe_x, probe_y)
                norm = {k: float(np.linalg.norm(v)) for k, v in g.items()}

                def cos(a, b):
                    return float(g[a] @ g[b] / (norm[a] * norm[b] + 1e-30))
                # The stale-statistics gap: probe accuracy with the batch's
                # BN statistics minus with the moving ones.
                saved = [(v, v.numpy()) for v in student.non_trainable_variables]
                batch_acc = np.mean(np.argmax(student(probe_x, training=True), -1) == probe_y)
                for v, value in saved:  # a training-mode call moves the statistics
                    v.assign(value)
                gap = float(batch_acc - np.mean(np.argmax(student(probe_x, training=False), -1)
                                                == probe_y))
                rows.append((step, norm["prior"] / norm["ce"], cos("prior", "ce"),
                             norm["prior"] / (norm["dense"] + 1e-30), cos("prior", "dense"),
                             norm["kd"] / norm["ce"], cos("kd", "ce"), norm["ce"],
                             logs.get("tau", float("nan")), logs.get("knowledge_loss",
                                                                     float("nan")), gap))
                print(f"mu {mu:g} step {step}: |prior|/|ce| {rows[-1][1]:.3f} "
                      f"(cos {rows[-1][2]:+.3f}), SRP/dense {rows[-1][3]:.3f} "
                      f"(cos {rows[-1][4]:+.3f}), BN gap {gap:+.3f}", flush=True)
            index = order[start:start + BATCH]
            logs = distiller.train_on_batch(x[index], y[index], return_dict=True)
            step += 1
    return rows


def main(argv):
    del argv
    examples, epochs, every = _EXAMPLES.value, _EPOCHS.value, _EVERY.value
    if _QUICK.value:
        examples, epochs, every = 256, 2, 2
    ds = kr_keras.data.load("fashion_mnist", "train", batch_size=2048, augment=False,
                            shuffle=False, take=examples, seed=0)
    x, y = map(np.concatenate, zip(*[(a.numpy(), b.numpy()) for a, b in ds]))
    teacher = _teacher(x, y)
    command = "python benchmarks/kr_gradient_scale.py " + " ".join(sys.argv[1:])
    lines = ["# KR's prior term next to the cross-entropy: gradient norms", "",
             f"Command: `{command.strip()}` (kr_keras {kr_keras.__version__}).  ",
             f"First {examples} Fashion-MNIST training images, student ResNet-8x{_WIDTH.value:g}, "
             f"SGD lr {_LR.value:g} cosine over {epochs} epochs, batch {BATCH}; gradients of "
             "each term w.r.t. the student's weights on one fixed probe batch (the first "
             "128 images), in training mode.", "",
             "`SRP/dense`: the recoded prior gradient against the same term's dense "
             "(KR-Dense) gradient; `BN gap`: probe accuracy with batch statistics minus "
             "with the moving ones (stale statistics); `tau`, `L_K`: the logs of the "
             "step before. At mu = 0 (the control: the student alone) the prior's "
             "gradients are taken at weight 1.", "",
             "| mu | step | \\|g_prior\\| / \\|g_ce\\| | cos(g_prior, g_ce) "
             "| SRP/dense norm | cos(SRP, dense) | \\|g_kd\\| / \\|g_ce\\| | cos(g_kd, g_ce) "
             "| \\|g_ce\\| | tau | L_K | BN gap |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for mu in (float(v) for v in _MU.value):
        for row in measure(teacher, x, y, mu, epochs, every):
            step, ratio, cos_p, srp, cos_srp, kd_ratio, cos_kd, ce_norm, tau, lk, gap = row
            lines.append(f"| {mu:g} | {step} | {ratio:.3f} | {cos_p:+.3f} | {srp:.3f} | "
                         f"{cos_srp:+.3f} | {kd_ratio:.3f} | {cos_kd:+.3f} | {ce_norm:.3f} | "
                         f"{tau:.2e} | {lk:.3f} | {gap:+.3f} |")
    os.makedirs(os.path.dirname(_OUT.value) or ".", exist_ok=True)
    with open(_OUT.value, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"Wrote {_OUT.value}")


if __name__ == "__main__":
    sys.exit(app.run(main))
