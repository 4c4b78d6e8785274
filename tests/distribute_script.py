"""Subprocess side of tests/test_distribute.py (not collected by pytest).

Device layout and `TF_CONFIG` must be fixed before TensorFlow initialises its
devices, so the strategy tests run these modes in fresh interpreters:

    python tests/distribute_script.py mirrored OUT.json [I/N]
        For every registered method (every N-th from the I-th, with I/N), and for `keras.distillation.Distiller`
        with each of kr_keras' KD, AT, NST and FitNet losses (keys
        "keras:<loss>"): one `fit` step on a global batch of 8 under
        MirroredStrategy on 2 logical CPUs, against the same step on one
        device. Writes per-method results (or the error) as JSON.
    python tests/distribute_script.py sequential OUT.json
        `ce`, then `kdgan` (two optimizers in one step), each distiller
        under its own `get_strategy("mirrored", ...)` call on 2 logical
        CPUs, one epoch of 2 steps each; writes their losses, and the
        warnings of compiling `kdgan` under a second MirroredStrategy.
    python tests/distribute_script.py worker OUT.npz [METHOD]
        One MultiWorkerMirroredStrategy worker (cluster from TF_CONFIG):
        3 distill steps, then the student's weights to OUT.npz.
"""

import json
import sys
import traceback

import numpy as np
import tensorflow as tf

GLOBAL_BATCH = 8
SHAPE = (8, 8, 3)
CLASSES = 4


def models():
    """Tiny functional nets of two stages (4 then 8 channels, stride 2):
    teacher with 2 blocks per stage (4 taps), student with 1 (2 taps, k = 2),
    batch normalisation in the student, named like ResNet block outputs.
    Two stages so that every method applies (FSP needs >= 2 section maps)."""
    import keras

    def net(name, blocks, batch_norm):
        inputs = keras.Input(SHAPE)
        x = inputs
        for stage, filters in enumerate((4, 8)):
            for b in range(blocks):
                strides = 2 if (stage and not b) else 1
                x = keras.layers.Conv2D(filters, 3, strides=strides, padding="same",
                                        name=f"{name}_s{stage}_conv{b}")(x)
                if batch_norm:
                    x = keras.layers.BatchNormalization(
                        momentum=0.9, name=f"{name}_s{stage}_bn{b}")(x)
                x = keras.layers.ReLU(name=f"stage{stage + 1}_block{b + 1}_out")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, keras.layers.Dense(CLASSES)(x), name=name)

    return net("teacher", 2, False), net("student", 1, True)


def data(duplicate_halves, seed=0, batches=1):
    rng = np.random.default_rng(seed)
    half = GLOBAL_BATCH * batches // (2 if duplicate_halves else 1)
    x = rng.normal(size=(half, *SHAPE)).astype("float32")
    y = rng.integers(0, CLASSES, size=half).astype("int32")
    if duplicate_halves:
        x, y = np.concatenate([x, x]), np.concatenate([y, y])
    return x, y


# Hyper-parameters that keep a method's case cheap (CRD's default memory
# bank is 2 x 50000 x 128 floats) or defined on the duplicated halves of
# `mirrored`: RKD's angle at a sample and its duplicate is between a zero
# vector and another, whose direction is rounding noise, so the mirrored
# case checks RKD's distance term alone (tests/test_losses_zoo.py checks
# the angles against the reference).
# FT in its joint form: the one-epoch suites (mirrored, XLA, mixed precision)
# then run its distillation term and both kinds of helper in the same step;
# its default paraphraser stage (FT weight 0 in epoch 1) is tested in
# tests/test_losses_zoo.py.
CHEAP = {"crd": {"n_data": 64, "nce_k": 16}, "ft": {"paraphraser_epochs": 0}}
MIRRORED = {**CHEAP, "rkd": {"angle_weight": 0.0}}

# One method per kind of step of the one Distiller: no loss, logits,
# feature maps, a global-batch loss, joint helpers, an own-objective helper,
# both in one loss, a memory bank, KR's alternating aggregators, KR recoding the
# student's kernel gradients (SRP on the weights), and KR
# beside an own-objective helper with its own optimizer.
MIRRORED_METHODS = ["ce", "kd", "at", "sp", "fitnet", "kdgan", "ft", "crd", "kr", "kr_weights",
                    "kr+kdgan"]
KERAS_LOSSES = {
    "kd": lambda losses: losses.KD(),
    "at": lambda losses: losses.AttentionTransfer("stage2_block2_out", "stage2_block1_out"),
    "nst": lambda losses: losses.NeuronSelectivityTransfer("stage1_block2_out", "stage1_block1_out"),
    "fitnet": lambda losses: losses.FitNetDistillation("stage2_block2_out", "stage2_block1_out"),
}


def build(method, strategy, init_weights=None):
    import keras
    import kr_keras

    with strategy.scope():
        keras.utils.set_random_seed(0)
        teacher, student = models()
        if method.startswith("keras:"):
            # kr_keras losses inside Keras' own Distiller, which does not
            # divide distillation terms by the replica count itself.
            loss = KERAS_LOSSES[method.split(":")[1]](kr_keras.losses)
            distiller = keras.distillation.Distiller(
                teacher, student, [loss], distillation_loss_weights=[10.0],
                student_loss_weight=0.5)
            compile_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        else:
            distiller = kr_keras.build_distiller(method, teacher, student,
                                                 **MIRRORED.get(method, {}))
            compile_loss = None
        if init_weights is not None:
            distiller.set_weights(init_weights)
        distiller.compile(optimizer=keras.optimizers.SGD(0.1), loss=compile_loss,
                          metrics=["accuracy"])
    return distiller


def one_step(distiller, x, y):
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
    logs = distiller.fit(ds, epochs=1, shuffle=False, verbose=0).history
    return {k: float(v[-1]) for k, v in logs.items()}


def mirrored(out, shard="0/1"):
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import kr_keras

    two = kr_keras.distribute.get_strategy("mirrored", devices=["/cpu:0", "/cpu:1"])
    one = kr_keras.distribute.get_strategy("default")
    # Two identical halves: every replica sees the statistics of the whole
    # global batch, so batch-normalisation (student, teacher in inference
    # mode, KR aggregators in training mode) behaves as on one device and
    # the one-step updates must agree to float tolerance.
    x, y = data(duplicate_halves=True)
    results = {}
    index, count = (int(v) for v in shard.split("/"))
    methods = MIRRORED_METHODS + [f"keras:{k}" for k in KERAS_LOSSES]
    for method in methods[index::count]:
        try:
            single = build(method, one)
            # The one-device reference runs eagerly: the same math, without
            # tracing a second graph per method (3-6x faster here; the
            # graph path on one device is tested in test_distillers_baselines).
            single.run_eagerly = True
            init = single.get_weights()
            single_logs = one_step(single, x, y)
            double = build(method, two, init)
            double_logs = one_step(double, x, y)
            after_one, after_two = single.get_weights(), double.get_weights()
            paths = [w.path for w in single.weights]
            results[method] = {
                "replicas": two.num_replicas_in_sync,
                "paths": paths,
                # Per weight: |1 device - 2 replicas| and |after - before|.
                "diff": [float(np.max(np.abs(a - b))) for a, b in zip(after_one, after_two)],
                "change": [float(np.max(np.abs(a - b))) for a, b in zip(after_one, init)],
                "logs_one": single_logs,
                "logs_two": double_logs,
            }
        except Exception:  # reported per method by the test
            results[method] = {"error": traceback.format_exc()}
    with open(out, "w") as f:
        json.dump(results, f)


def sequential(out):
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import kr_keras

    x, y = data(duplicate_halves=False, batches=2)
    losses = {}
    for method in ("ce", "kdgan"):
        strategy = kr_keras.distribute.get_strategy("mirrored", devices=["/cpu:0", "/cpu:1"])
        distiller = build(method, strategy)
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
        losses[method] = distiller.fit(ds, epochs=1, verbose=0).history["loss"]
    import warnings

    with warnings.catch_warnings(record=True) as caught:  # a second strategy: the fix, named
        warnings.simplefilter("always")
        build("kdgan", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    losses["warnings"] = [str(w.message) for w in caught]
    with open(out, "w") as f:
        json.dump(losses, f)


def worker(out, method="kr"):
    import kr_keras

    strategy = kr_keras.distribute.get_strategy("multi_worker")
    distiller = build(method, strategy)
    x, y = data(duplicate_halves=False, seed=1, batches=3)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    logs = distiller.fit(ds.with_options(options), epochs=1, verbose=0).history
    student = distiller.student
    np.savez(
        out,
        replicas=strategy.num_replicas_in_sync,
        loss=np.array(logs["loss"]),
        **{f"trainable/{v.path}": v.numpy() for v in student.trainable_weights},
        **{f"moving/{v.path}": v.numpy() for v in student.non_trainable_weights},
    )


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    {"mirrored": mirrored, "sequential": sequential, "worker": worker}[mode](*args)
