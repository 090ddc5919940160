"""A run you can find: best.ckpt by name, test/predict into the checkpoint's run, the report
each command prints, the learning rates in TensorBoard, the one-line model summary."""

import contextlib
import io
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from plantwatch.cli import main
from plantwatch.training.run_report import checkpoint_run, metrics_table
from tests.data.fakes import tiny_cli_args


def run_command(argv: list[str]) -> str:
    """What ``plantwatch <argv>`` printed; fails on a user-facing warning it raised."""
    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed):
        warnings.simplefilter("always", UserWarning)
        main(argv)
    shown = [w for w in caught if issubclass(w.category, UserWarning)]
    assert not shown, [f"{w.filename}: {w.message}" for w in shown]
    return printed.getvalue()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A two-epoch ``plantwatch fit`` as a user runs it: (run folder, what it printed on
    stdout and stderr)."""
    base = tmp_path_factory.mktemp("found")
    args = [*tiny_cli_args(base / "ds", base / "runs"), "--trainer.enable_model_summary=true",
            "--trainer.log_every_n_steps=2", "--trainer.max_epochs=2"]  # fmt: skip
    done = subprocess.run([str(Path(sys.executable).parent / "plantwatch"), "fit", *args],
                          capture_output=True, text=True, timeout=300, cwd=base)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return base / "runs" / "plantwatch" / "version_0", done.stdout, done.stderr


def test_fit_prints_no_python_warning(fitted):
    _, printed, errors = fitted
    assert not re.search(r"\.py:\d+: ", printed + errors), errors  # warnings' file:line form


def test_fit_names_its_best_checkpoint_and_prints_what_to_run_next(fitted):
    run, printed, _ = fitted
    best = run / "checkpoints" / "best.ckpt"
    chosen = [p for p in (run / "checkpoints").glob("epoch=*.ckpt")]
    assert len(chosen) == 1 and os.path.samefile(best, chosen[0])
    assert f"run folder: {run}" in printed
    assert "best checkpoint (val/selection_loss " in printed and str(best) in printed
    assert f"plantwatch test --config {run / 'config.yaml'} --ckpt_path {best}" in printed
    assert f"tensorboard --logdir {run}" in printed
    assert "MultiTaskTask (MultiTaskUNet): " in printed  # the one-line summary, no table
    assert "FLOPs" not in printed and "┃" not in printed
    assert checkpoint_run(best) == run and checkpoint_run(run / "config.yaml") is None


def test_the_learning_rate_of_each_parameter_group_is_in_tensorboard(fitted):
    run, *_ = fitted
    events = EventAccumulator(str(run), size_guidance={"scalars": 0})
    events.Reload()
    rates = [tag for tag in events.Tags()["scalars"] if tag.startswith("lr-AdamW/")]
    assert "lr-AdamW/lr_x1_decay" in rates and "lr-AdamW/lr_x1_no_decay" in rates
    values = [event.value for event in events.Scalars("lr-AdamW/lr_x1_decay")]
    assert values[-1] < values[0]  # the cosine schedule


def test_test_and_predict_with_a_runs_checkpoint_write_into_that_run(fitted):
    run, *_ = fitted
    best = run / "checkpoints" / "best.ckpt"
    again = ["--config", str(run / "config.yaml"), f"--ckpt_path={best}"]
    printed = run_command(["test", *again])
    assert "test metrics:" in printed and "power MAE (MW)" in printed
    value = next(line for line in printed.splitlines() if "plume IoU (all pixels)" in line)
    assert len(value.split()[-1]) == 5  # rounded: 0.123
    assert "test/loss" not in printed and "───" not in printed  # not Lightning's table
    printed = run_command(["predict", *again])
    table = run / "predictions" / "predictions.csv"
    assert f"wrote {table}" in printed and table.is_file()
    assert "plantwatch aggregate" in printed and "--dataset" in printed
    assert sorted(p.name for p in run.parent.iterdir()) == ["version_0"]  # no new version
    assert {"config.yaml", "config_test.yaml", "config_predict.yaml"} <= {
        p.name for p in run.iterdir()
    }
    events = EventAccumulator(str(run), size_guidance={"scalars": 0})
    events.Reload()
    assert "test/plume_iou" in events.Tags()["scalars"]


def test_the_printed_metrics_are_the_headline_ones_with_units():
    table = metrics_table(
        {"test/power_mae_mw": 81.234, "test/power_rmse_mw": 90.0, "test/loss": 1.0,
         "test/fuel_accuracy": 0.51234, "val/plume_iou": 0.7, "test/power_r2": float("nan")},
        "test",
    )  # fmt: skip
    lines = table.splitlines()
    assert [line.split("  ")[1].strip() for line in lines] == [
        "power MAE (MW)", "fuel accuracy", "power R²"]  # fmt: skip
    assert lines[0].endswith("81.234") and lines[1].endswith("0.512") and lines[2].endswith("–")


def test_lightnings_optimizer_flags_are_not_offered(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["fit", *tiny_cli_args(tmp_path / "ds", tmp_path / "runs"), "--optimizer=SGD"])
    assert "--optimizer" in capsys.readouterr().err
