"""Reading teachers and writing files atomically (temp path + rename)."""

import os
import zipfile

import keras

from kr_keras.export import atomic_path


def check_teacher_path(path):
    """Raises `FileNotFoundError` / `ValueError` for a missing or non-.keras
    teacher path, naming the fix."""
    if not path:
        raise ValueError("Pass the trained teacher with --teacher=<path>.keras. Received: teacher=''")
    if not os.path.exists(path):
        raise FileNotFoundError(
            "Teacher file not found; train one with `python -m experiments.train_teacher` "
            f"or fix the path. Received: teacher={path!r}"
        )
    if not path.endswith(".keras"):
        raise ValueError(
            f"The teacher must be a `.keras` file (keras.Model.save). Received: teacher={path!r}"
        )


def load_model(path, role="teacher"):
    """Loads a `.keras` model, with one-line errors for missing/corrupt files.

    Args:
        path: Path of a `.keras` file.
        role: Name used in messages (`"teacher"`, `"student"`).

    Returns:
        The uncompiled `keras.Model`.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable `.keras` model.
    """
    if role == "teacher":
        check_teacher_path(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"The {role} file was not found. Received: {role}={path!r}")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"The {role} file is not a valid `.keras` archive (truncated or corrupt?); "
            f"re-save it with keras.Model.save. Received: {role}={path!r}"
        )
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for bad archives.
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"The {role} file could not be loaded ({first}); re-save it with "
            f"keras.Model.save. Received: {role}={path!r}"
        ) from error
    if not isinstance(model, keras.Model):
        raise ValueError(f"The {role} file does not hold a keras.Model. Received: {role}={path!r}")
    return model


def save_model(model, path):
    """`model.save(path)` through a temporary file and an atomic rename."""
    if not os.fspath(path).endswith(".keras"):
        raise ValueError(f"Models are saved as `.keras` files. Received: path={path!r}")
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    return path


def write_text(path, text):
    """Writes `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)
    return path


def append_csv_row(path, fields, row):
    """Appends `row` (a dict over `fields`) to the CSV at `path`, writing the
    header first when the file is new."""
    import csv

    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fields)
        if new:
            writer.writeheader()
        writer.writerow(row)


def machine_summary():
    """One line naming what a measurement ran on: CPU model and cores, GPUs
    TensorFlow sees, TensorFlow and Keras versions."""
    import platform

    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    gpus = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        gpus.append(details.get("device_name", device.name))
    return (f"{cpu}, {os.cpu_count()} cores; GPU: {', '.join(gpus) if gpus else 'none'}; "
            f"TensorFlow {tf.__version__}, Keras {keras.__version__}")


def write_benchmark_report(path, title, script, lines):
    """Writes a benchmark's printed lines to `path` (Markdown, atomically),
    under a header naming its command line and the machine (`machine_summary`),
    and says so.

    Args:
        path: Output file, e.g. `results/benchmarks/memory.md`.
        title: First heading.
        script: The benchmark, e.g. `"benchmarks/memory.py"`; its flags are
            this process's `sys.argv[1:]`.
        lines: The printed lines (kept verbatim in a code block).

    Returns:
        `path`.
    """
    import sys

    command = " ".join([f"PYTHONPATH=. python {script}", *sys.argv[1:]])
    text = "\n".join([
        f"# {title}",
        "",
        f"Written by `{command}` on {machine_summary()}.",
        "",
        "```",
        *lines,
        "```",
        "",
    ])
    write_text(path, text)
    print(f"written to {path}")
    return path
