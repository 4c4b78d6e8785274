"""Contrastive representation distillation (CRD): NCE over a memory bank.

Reference: Tian, Krishnan and Isola, "Contrastive Representation
Distillation", ICLR 2020; RepDistiller `crd/criterion.py`, `crd/memory.py`
(`ContrastMemory`) and `train_student.py`. Defaults and simplifications
(memory without `sample_indices=`, negatives, `tf.distribute`):
docs/methods_zoo.md, "CRD".
"""

import math
import warnings

import keras
import tensorflow as tf

from kr_keras.losses.common import HelperLoss
from kr_keras.losses.common import build_embeddings
from kr_keras.losses.common import flatten
from kr_keras.losses.common import global_batch
from kr_keras.losses.common import mean_and_rank
from kr_keras.losses.common import paired_losses
from kr_keras.losses.common import scale_for_replicas

DEFAULTS = {"teacher_layers": None, "student_layers": None, "feat_dim": 128, "nce_k": 16384,
            "nce_t": 0.07, "nce_m": 0.5, "n_data": 50000, "student_loss_weight": 1.0,
            "distillation_loss_weight": 0.8}


def contrast_loss(scores, n_data):
    """NCE loss of `[batch, 1 + K]` scores `P`, the positive first (`ContrastLoss`):
    `-(sum log P+/(P+ + K/N + eps) + sum log (K/N)/(P- + K/N + eps)) / batch`."""
    noise = (tf.cast(tf.shape(scores)[1], tf.float32) - 1.0) / n_data
    log_d1 = tf.math.log(scores[:, 0] / (scores[:, 0] + noise + 1e-7))
    log_d0 = tf.math.log(noise / (scores[:, 1:] + noise + 1e-7))
    batch = tf.cast(tf.shape(scores)[0], tf.float32)
    return -(tf.reduce_sum(log_d1) + tf.reduce_sum(log_d0)) / batch


def nce_scores(v, memory, contrast_indices, temperature=0.07):
    """`exp(v_b . memory[contrast_indices[b, k]] / T)`, `[batch, 1 + K]`: `v`
    one network's `[batch, d]` embeddings, `memory` the other's `[N, d]`."""
    dots = tf.matmul(tf.cast(v, tf.float32), memory, transpose_b=True)
    return tf.exp(tf.gather(dots, contrast_indices, batch_dims=1) / temperature)


@keras.saving.register_keras_serializable(package="kr_keras")
class ContrastiveRepresentationDistillation(HelperLoss):
    """CRD owning its embeddings (trainable) and memory bank (not trainable).

    `compute_loss(t, s, sample_indices=None, contrast_indices=None,
    training=True)` sums both anchors' `contrast_loss` against `1 + nce_k`
    rows of the other network's memory; when training, it writes the batch
    to the memories.

    Args:
        teacher_layer_name: Teacher tap (pooled embedding).
        student_layer_name: Student tap (pooled embedding).
        feat_dim: Embedding width (128).
        nce_k: Negatives per anchor (16384; at most `n_data - 1`).
        nce_t: Temperature (0.07).
        nce_m: Memory momentum (0.5).
        n_data: Memory rows: the training images (50000).
        **kwargs: Base layer keyword arguments.
    """

    CONFIG = ("feat_dim", "nce_k", "nce_t", "nce_m", "n_data")

    def __init__(self, teacher_layer_name, student_layer_name, feat_dim=128,
                 nce_k=16384, nce_t=0.07, nce_m=0.5, n_data=50000, **kwargs):
        if not (min(feat_dim, nce_k, n_data - 1) >= 1 and nce_t > 0 and 0 <= nce_m < 1):
            raise ValueError(
                "Need feat_dim, nce_k >= 1, n_data >= 2, nce_t > 0, 0 <= nce_m < 1. "
                f"Received: feat_dim={feat_dim}, nce_k={nce_k}, nce_t={nce_t}, "
                f"nce_m={nce_m}, n_data={n_data}")
        if nce_k >= n_data:
            warnings.warn(f"CRD draws nce_k negatives among the n_data - 1 other rows; using "
                          f"nce_k={n_data - 1}. Received: nce_k={nce_k}, n_data={n_data}")
            nce_k = n_data - 1
        super().__init__(teacher_layer_name, student_layer_name, **kwargs)
        self.feat_dim, self.nce_k, self.n_data = int(feat_dim), int(nce_k), int(n_data)
        self.nce_t, self.nce_m = float(nce_t), float(nce_m)

    def build_helpers(self, teacher_shape, student_shape):
        build_embeddings(self, self.feat_dim, teacher_shape, student_shape)
        stdv = 1.0 / math.sqrt(self.feat_dim / 3)
        state = dict(trainable=False, aggregation="only_first_replica")
        self.memory_s, self.memory_t = [self.add_weight(
            shape=(self.n_data, self.feat_dim), name=f"memory_{side}",
            initializer=keras.initializers.RandomUniform(-stdv, stdv), **state)
            for side in "st"]
        self.z = self.add_weight(shape=(2,), initializer="zeros", name="z", **state)
        self.counter = self.add_weight(  # [ring pointer, steps], exact below 2**24
            shape=(2,), initializer="zeros", name="counter", **state)

    def compute_loss(self, teacher_outputs, student_outputs, sample_indices=None,
                     contrast_indices=None, training=True, **kwargs):
        unit = lambda x: tf.math.l2_normalize(tf.cast(x, tf.float32), 1, 1e-24)  # noqa: E731
        v_s, v_t = unit(self.embed_s(flatten(student_outputs))), unit(
            self.embed_t(flatten(teacher_outputs)))
        gather, (mean, rank) = global_batch, mean_and_rank()
        sizes = gather(tf.shape(v_s)[:1])
        batch, offset, total = sizes[rank], tf.reduce_sum(sizes[:rank]), tf.reduce_sum(sizes)
        pointer, step = tf.cast(self.counter[0], tf.int32), tf.cast(self.counter[1], tf.int32)
        if exact := sample_indices is not None:
            rows = gather(tf.reshape(tf.cast(sample_indices, tf.int32), [-1]))
        else:  # Ring buffer: the global batch is written first, then read back.
            rows = (pointer + tf.range(total)) % self.n_data
        idx, memories, m = rows[offset:offset + batch], [], (self.nce_m if exact else 0.0)
        for memory, v in ((self.memory_s, v_s), (self.memory_t, v_t)):
            new = m * tf.gather(memory, rows) + (1.0 - m) * gather(tf.stop_gradient(v))
            updated = tf.tensor_scatter_nd_update(memory, rows[:, None], unit(new))
            memories.append(tf.identity(memory) if exact else updated)
            if training:
                memory.assign(updated)
        if contrast_indices is None:
            negatives = tf.random.stateless_uniform(  # of the N - 1 rows but idx
                [total, self.nce_k], [1234, step], 0, self.n_data - 1, tf.int32)
            negatives = negatives[offset:offset + batch]
            negatives += tf.cast(negatives >= idx[:, None], tf.int32)
            contrast_indices = tf.concat([idx[:, None], negatives], 1)
        out_s = nce_scores(v_s, memories[1], contrast_indices, self.nce_t)
        out_t = nce_scores(v_t, memories[0], contrast_indices, self.nce_t)
        # Z is set once, from the first global batch's scores (no gradient).
        first = mean(tf.stack([tf.reduce_mean(out_s), tf.reduce_mean(out_t)]))
        z = tf.where(self.z > 0, self.z, tf.stop_gradient(first))
        self.z.assign(z)
        if training:
            self.counter.assign(tf.cast(tf.stack(
                [(pointer + total) % self.n_data, (step + 1) % 2**24]), tf.float32))
        return scale_for_replicas(contrast_loss(out_s / (z[0] * self.n_data), self.n_data)
                                  + contrast_loss(out_t / (z[1] * self.n_data), self.n_data))


def build_losses(teacher, student, teacher_layers, student_layers, feat_dim, nce_k, nce_t,
                 nce_m, n_data, distillation_loss_weight):
    """RepDistiller's CRD, on the pooled embeddings (`feat[-1]`) by default."""
    return paired_losses(lambda t, s: ContrastiveRepresentationDistillation(
        t, s, feat_dim, nce_k, nce_t, nce_m, n_data), distillation_loss_weight, "CRD",
        teacher, student, teacher_layers, student_layers, kind="embedding", rank=None)
