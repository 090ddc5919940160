"""Statistics of a study's runs: values rounded to their spread, per-split means and paired
differences against a reference variant with t-intervals.

Runs of two variants with the same training seed, split seed and label fraction share their
data, split and initial random state, so their difference removes what the seed and the
split add to both; the spread of these paired differences, not of each variant on its own,
says whether a variant is better.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

PAIR_KEYS = ("label_fraction", "seed", "split_seed")
CONFIDENCE = 0.95  # of the paired-difference intervals


def decimals_for(spread: float, value: float = 0.0) -> int:
    """Decimals that keep two significant digits of ``spread`` (a std or an interval's
    half-width); without a spread, three significant digits of ``value``."""
    scale = spread if np.isfinite(spread) and spread > 0 else abs(value) / 10
    if not np.isfinite(scale) or scale == 0:
        return 3
    return max(0, 1 - math.floor(math.log10(scale)))


def with_spread(mean: float, std: float) -> str:
    """``332 ± 89``, ``0.862 ± 0.038``; a single value (no std) alone: ``0.637``."""
    if not np.isfinite(mean):
        return "–"
    digits = decimals_for(std, mean)
    if not np.isfinite(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def signed(value: float, digits: int) -> str:
    """``+0.012`` or ``−0.012`` (a true minus sign)."""
    text = f"{value:+.{digits}f}"
    return text.replace("-", "−")


def paired_differences(
    runs: pd.DataFrame, reference: str, metrics: tuple[str, ...], confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Each variant minus ``reference`` over the runs they share (same label fraction,
    training seed and split seed).

    Args:
        runs: one row per trained run: ``variant``, the ``PAIR_KEYS`` and the metrics.
        reference: the variant the others are compared with.
        metrics: the metrics to compare (those neither variant reports are skipped).
        confidence: level of the two-sided Student-t interval of the mean difference.

    Returns:
        One row per (variant, label_fraction, metric): ``n`` pairs, ``mean``, ``low`` and
        ``high`` (the interval; NaN with fewer than 2 pairs), in the metric's units.
    """
    keys = list(PAIR_KEYS)
    runs = runs.assign(split_seed=runs["split_seed"].fillna(-1))
    base = runs[runs["variant"] == reference].set_index(keys)
    rows = []
    for variant, own in runs[runs["variant"] != reference].groupby("variant", sort=False):
        own = own.set_index(keys)
        shared = own.index.intersection(base.index)
        for metric in metrics:
            if metric not in runs:
                continue
            difference = (own.loc[shared, metric] - base.loc[shared, metric]).dropna()
            for fraction, values in difference.groupby(level=0, sort=True):
                n = len(values)
                mean = float(values.mean())
                half = np.nan
                if n >= 2:
                    sem = float(values.std(ddof=1)) / math.sqrt(n)
                    half = float(student_t.ppf(0.5 + confidence / 2, n - 1)) * sem
                rows.append({"variant": variant, "label_fraction": fraction, "metric": metric,
                             "n": n, "mean": mean, "low": mean - half,
                             "high": mean + half})  # fmt: skip
    return pd.DataFrame(rows, columns=["variant", "label_fraction", "metric", "n", "mean",
                                       "low", "high"])  # fmt: skip


def difference_cell(row: pd.Series, higher_is_better: bool) -> str:
    """``+0.012 [−0.004, +0.028]``; bold where the interval excludes 0 in the better
    direction, and marked ``(worse)`` where it excludes 0 in the other."""
    if not np.isfinite(row["high"]):
        return f"{signed(row['mean'], decimals_for(0, row['mean']))} (one pair)"
    if row["high"] == row["low"]:
        return "0 (identical)" if row["mean"] == 0 else f"{row['mean']:+g} in every pair"
    digits = decimals_for((row["high"] - row["low"]) / 2, row["mean"])
    text = (f"{signed(row['mean'], digits)} [{signed(row['low'], digits)}, "
            f"{signed(row['high'], digits)}]")  # fmt: skip
    if row["low"] > 0 or row["high"] < 0:
        better = (row["low"] > 0) == higher_is_better
        return f"**{text}**" if better else f"{text} (worse)"
    return text


def per_split_means(runs: pd.DataFrame, metrics: tuple[str, ...]) -> pd.DataFrame:
    """Mean over the training seeds of each variant, label fraction and split seed."""
    present = [m for m in metrics if m in runs]
    return runs.groupby(["variant", "label_fraction", "split_seed"], sort=False)[present].mean()
