"""Split-conformal intervals: the quantile rule and nominal coverage on a synthetic problem."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plantwatch.estimates.conformal import conformal_quantile, interval, nonconformity


def test_quantile_is_the_ceil_n_plus_one_level_th_smallest_score() -> None:
    scores = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0])  # 1..9 shuffled
    assert conformal_quantile(scores, 0.9) == 9.0  # ⌈10 · 0.9⌉ = 9th
    assert conformal_quantile(scores, 0.5) == 5.0  # ⌈10 · 0.5⌉ = 5th
    assert conformal_quantile(scores, 0.95) == math.inf  # ⌈9.5⌉ = 10 > 9 scores
    assert conformal_quantile(np.array([1.0, np.nan, 2.0]), 0.5) == 2.0  # NaN ignored
    with pytest.raises(ValueError, match="level"):
        conformal_quantile(scores, 1.0)


@pytest.mark.parametrize("normalised", [False, True])
def test_intervals_reach_nominal_coverage_on_a_heteroscedastic_problem(normalised: bool) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 40_000)
    sigma = 0.2 + 2.0 * x  # noise grows with x
    y = 3.0 * x + sigma * rng.standard_normal(x.size)
    mean = 3.0 * x  # the true regression function
    spread = sigma if normalised else None
    calibration, test = slice(0, 2000), slice(2000, None)
    for level in (0.5, 0.8, 0.9, 0.95):
        scores = nonconformity(y[calibration], mean[calibration],
                               None if spread is None else spread[calibration])  # fmt: skip
        q = conformal_quantile(scores, level)
        low, high = interval(mean[test], 1.0 if spread is None else spread[test], q, None)
        covered = np.mean((low <= y[test]) & (y[test] <= high))
        assert abs(covered - level) < 0.02, (level, covered)
        if normalised:  # adaptive: covered alike where the noise is small and where it is large
            small = x[test] < 0.3
            inside = (low <= y[test]) & (y[test] <= high)
            assert abs(inside[small].mean() - inside[~small].mean()) < 0.03


def test_interval_is_clipped_at_the_lower_bound() -> None:
    low, high = interval(np.array([1.0, 10.0]), np.array([2.0, 2.0]), 1.5)
    assert low.tolist() == [0.0, 7.0] and high.tolist() == [4.0, 13.0]
