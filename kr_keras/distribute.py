"""`get_strategy(name)`: the `tf.distribute` strategies kr_keras is tested with."""

import json
import os

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker")
_MIRRORED = {}  # device list -> this process' MirroredStrategy over it


def get_strategy(name="default", devices=None, communication="auto"):
    """Returns a `tf.distribute.Strategy` by name (for `--strategy` flags).

    Build the models and the distiller, and `compile`, inside `strategy.scope()`;
    `fit` then takes the global batch (example: docs/scaling.md).

    Args:
        name: One of `STRATEGIES`. `"default"`: the current (one-device)
            strategy. `"mirrored"`: `tf.distribute.MirroredStrategy` over
            `devices`, one per device list and process (every call returns the
            same one: a second one breaks KR's two-optimizer all-reduce).
            `"multi_worker"`: `MultiWorkerMirroredStrategy` over the cluster in
            the `TF_CONFIG` environment variable (a single local worker
            without it); create it at program start, before other TF calls.
        devices: Device strings for `"mirrored"` (e.g. `["/gpu:0",
            "/gpu:1"]`); `None` for every local GPU, else the CPU.
        communication: Collective implementation for `"multi_worker"`:
            `"auto"`, `"ring"` (gRPC) or `"nccl"` (GPUs).

    Returns:
        A `tf.distribute.Strategy`.
    """
    if name not in STRATEGIES:
        raise ValueError(f"`name` must be one of {STRATEGIES}. Received: name={name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        key = None if devices is None else tuple(devices)
        if key not in _MIRRORED:
            _MIRRORED[key] = tf.distribute.MirroredStrategy(devices=devices)
        return _MIRRORED[key]
    if communication not in ("auto", "nccl", "ring"):
        raise ValueError("`communication` must be one of ['auto', 'nccl', 'ring']. "
                         f"Received: communication={communication!r}")
    tf_config = os.environ.get("TF_CONFIG")
    if tf_config:
        try:
            json.loads(tf_config)["cluster"]["worker"]
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                "TF_CONFIG must be JSON like {\"cluster\": {\"worker\": "
                "[\"host:port\", ...]}, \"task\": {\"type\": \"worker\", "
                f"\"index\": 0}} (docs/scaling.md). Received: TF_CONFIG={tf_config!r}"
            ) from error
    options = tf.distribute.experimental.CommunicationOptions(implementation=getattr(
        tf.distribute.experimental.CommunicationImplementation, communication.upper()))
    return _MultiWorkerMirroredStrategy(communication_options=options)


class _MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """`MultiWorkerMirroredStrategy` whose `reduce` does what Keras 3 `fit` asks:
    nested values element by element, scalars over the replicas only
    (`axis=None`; docs/scaling.md, keras#20585, tensorflow#72388)."""

    def reduce(self, reduce_op, value, axis):
        base = super(_MultiWorkerMirroredStrategy, self)

        def reduce_one(v):
            local = self.experimental_local_results(v)[0]
            rank = getattr(local, "shape", tf.TensorShape(None)).rank
            return base.reduce(reduce_op, v, None if rank == 0 else axis)

        return tf.nest.map_structure(reduce_one, value)


def worker_index():
    """This process' worker index in `TF_CONFIG` (0 without one): write
    checkpoints, exports and logs from worker 0 only."""
    tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    return int(tf_config.get("task", {}).get("index", 0))
