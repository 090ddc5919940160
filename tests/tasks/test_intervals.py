"""Predicted spreads, their loss, and the conformal intervals calibrated on validation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from plantwatch.data.readers.observations import PlantObservations
from plantwatch.models.multitask_unet import MultiTaskUNet
from plantwatch.task_registry import TASKS
from plantwatch.tasks.intervals import LEVELS, RegressionIntervals
from plantwatch.tasks.losses import spread_loss
from plantwatch.tasks.metrics import describe_metric
from plantwatch.training.cli import fit_and_test
from tests.data.fakes import tiny_cli_args


def test_the_model_predicts_a_log_spread_per_regression_task() -> None:
    model = MultiTaskUNet(12, tasks=("fuel", "power", "co2"), uncertainty=True).eval()
    out = model(torch.randn(2, 12, 32, 32), capacity_mw=torch.tensor([500.0, torch.nan]))
    assert out["power_log_sigma"].shape == (2,) and out["co2_log_sigma"].shape == (2,)
    assert "fuel_log_sigma" not in out
    plain = MultiTaskUNet(12, tasks=("power",)).eval()
    assert "power_log_sigma" not in plain(torch.randn(1, 12, 32, 32))


@pytest.mark.parametrize("kind", ["gaussian", "laplace"])
def test_spread_loss_trains_the_spread_not_the_mean(kind: str) -> None:
    mean = torch.tensor([10.0, 20.0], requires_grad=True)
    log_sigma = torch.full((2,), 0.5, requires_grad=True)
    target, present = torch.tensor([12.0, 20.0]), torch.tensor([True, False])
    loss = spread_loss(log_sigma, mean, target, present, scale=2.0, kind=kind)
    # e = (10 − 12) / 2 = −1, log σ = 0.5
    expected = 0.5 * math.exp(-1.0) + 0.5 if kind == "gaussian" else math.exp(-0.5) + 0.5
    assert loss.item() == pytest.approx(expected)
    loss.backward()
    assert mean.grad is None or float(mean.grad.abs().sum()) == 0.0
    assert float(log_sigma.grad[1]) == 0.0 and float(log_sigma.grad[0]) != 0.0
    # its minimum over σ lies at the error's size: σ = |e| (Laplace), |e| (Gaussian, one case)
    grid = torch.linspace(-2, 2, 401)
    values = [
        float(spread_loss(torch.full((2,), s), mean, target, present, 2.0, kind)) for s in grid
    ]
    assert float(grid[int(torch.tensor(values).argmin())]) == pytest.approx(0.0, abs=0.02)


def test_intervals_calibrate_on_validation_cases_and_score_test_cases() -> None:
    spec = TASKS["power"]
    intervals = RegressionIntervals([spec], level=0.9)
    # validation: σ = 1 (no spread head), errors 1..19 MW
    errors = torch.arange(1.0, 20.0)
    labels = {"power": torch.full((19,), 100.0), "has_power": torch.ones(19, dtype=torch.bool)}
    intervals.update({"power": 100.0 + errors}, labels)
    intervals.calibrate({"power": intervals.collected("power")})
    assert float(intervals.quantiles[0, LEVELS.index(0.9)]) == 18.0  # ⌈20 · 0.9⌉ = 18th error
    assert float(intervals.quantiles[0, LEVELS.index(0.5)]) == 10.0
    low, high = intervals.bounds({"power": torch.tensor([10.0, 500.0])}, spec)
    assert low.tolist() == [0.0, 482.0] and high.tolist() == [28.0, 518.0]  # clipped at 0 MW
    test = torch.tensor([[100.0, 110.0, 1.0], [100.0, 130.0, 1.0]])  # errors 10 and 30
    scores = intervals.scores({"power": test})
    assert scores["power_coverage"] == 0.5 and scores["power_coverage_50"] == 0.5
    assert scores["power_interval_width_mw"] == 36.0
    assert describe_metric("power_coverage")[0] == "power interval coverage (nominal level)"
    assert describe_metric("power_coverage_90")[0] == "power interval coverage (90 % level)"
    assert describe_metric("power_interval_width_mw") == (
        "power conformal interval width (MW)", False)  # fmt: skip
    assert set(intervals.figures({"power": test})) == {"interval_reliability",
                                                        "power_interval_width"}  # fmt: skip


def test_a_run_with_spreads_reports_coverage_and_keeps_the_calibration(tmp_path: Path) -> None:
    args = [*tiny_cli_args(tmp_path / "ds", tmp_path / "runs", plants=12, per_plant=6),
            "--model=plantwatch.tasks.multitask_task.MultiTaskTask",
            "--model.init_args.tasks=[fuel, power, co2]", "--model.init_args.uncertainty=laplace",
            "--trainer.max_epochs=2"]  # fmt: skip
    metrics, cli = fit_and_test(args)
    labelled = PlantObservations(tmp_path / "ds", split="test").labels()["has_power"].sum()
    coverage = [metrics[f"power_coverage_{round(100 * level)}"] for level in LEVELS]
    assert coverage == sorted(coverage) and metrics["power_coverage"] == coverage[4]  # 90 %
    assert all(abs(c * labelled - round(c * labelled)) < 1e-6 for c in coverage)  # shares
    assert math.isfinite(metrics["power_interval_width_mw"])  # calibrated: a finite quantile
    quantiles = cli.model.intervals.quantiles
    assert math.isfinite(float(quantiles[0, LEVELS.index(0.5)]))
    best = cli.trainer.checkpoint_callback.best_model_path
    state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
    assert torch.isfinite(state["intervals.quantiles"][:, 0]).all()  # calibrated in the file
