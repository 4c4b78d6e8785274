"""Paired comparisons over seeds: the mean difference, its 95% t-interval
and the verdict the project's rule allows ("beats" only when the interval
excludes 0, and only from `MIN_SEEDS` paired seeds on)."""

import math

MIN_SEEDS = 5  # paired seeds before a comparison gets a verdict

# A method's control: the same training without its own term. KR's prior term
# at mu = 0 leaves the posterior method it is added to; every other method's
# control is the student alone ("ce").
CONTROLS = {"kr+kd": "kd", "kr+kdgan": "kdgan"}

# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def control_of(method):
    """The registry name of `method`'s control.

    Example:

    >>> control_of("kr+kd"), control_of("kr")
    ('kd', 'ce')
    """
    return CONTROLS.get(method, "ce")


def t_interval(differences):
    """`(mean, low, high)`: the mean and its 95% t-interval (`None` bounds
    for fewer than 2 values).

    Example:

    >>> t_interval([0.5])
    (0.5, None, None)
    """
    n = len(differences)
    mean = sum(differences) / n
    if n < 2:
        return mean, None, None
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1))
    half = T975[min(n - 1, len(T975)) - 1] * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def verdict(a, b, differences):
    """What the paired `differences` (`a` minus `b`, one per seed) allow
    saying: `"none (n of 5 seeds)"` below `MIN_SEEDS`, else `"<a> beats
    <b>"`, `"<b> beats <a>"` or `"no difference shown"`."""
    n = len(differences)
    if n < MIN_SEEDS:
        return f"none ({n} of {MIN_SEEDS} seeds)"
    _, low, high = t_interval(differences)
    return f"{a} beats {b}" if low > 0 else f"{b} beats {a}" if high < 0 else "no difference shown"
