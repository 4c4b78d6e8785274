"""What every binary shares: one-line user errors and flag plumbing."""

import functools
import logging
import sys

import tensorflow as tf

# Errors that mean "bad input", reported in one line without a traceback.
USER_ERRORS = (ValueError, FileNotFoundError, RuntimeError, tf.errors.InvalidArgumentError)


def one_line(error):
    """The first meaningful line of an error message.

    TF runtime errors carry the message of the failing assertion followed by
    graph context; only the assertion's own text is kept.
    """
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    for marker in ("kr_keras", "Non-finite"):
        at = message.find(marker)
        if at > 0:
            message = message[at:]
            break
    first = message.strip().splitlines()[0] if message.strip() else type(error).__name__
    return first.rstrip(" .:")


def user_errors(main):
    """Decorates a binary's `main(argv)`: library `ValueError`,
    `FileNotFoundError`, `RuntimeError` and TF `InvalidArgumentError` exit
    with status 1 and one line `error: <message>` on stderr."""

    @functools.wraps(main)
    def wrapper(argv):
        try:
            return main(argv)
        except USER_ERRORS as error:
            logging.debug("User error", exc_info=True)
            print(f"error: {one_line(error)}", file=sys.stderr)
            sys.exit(1)

    return wrapper


def require_positive(*holders):
    """Registers a `value > 0` check (unset `None` allowed) on float flags,
    whose `lower_bound` would admit 0 (`FATAL ...: --lr must be > 0`).

    Args:
        *holders: `FlagHolder`s returned by `flags.DEFINE_float`.
    """
    from absl import flags

    for holder in holders:
        flags.register_validator(holder, lambda value: value is None or value > 0,
                                 message=f"--{holder.name} must be > 0")


def present(flag_values, names):
    """The subset of `names` set explicitly on the command line / flagfile."""
    return {n for n in names if flag_values[n].present}


def log_dir():
    """`--log_dir` (absl.logging's flag; our TensorBoard and CSV logs go
    there, docs/experiments.md), or `None` when unset."""
    from absl import flags

    return flags.FLAGS["log_dir"].value or None
