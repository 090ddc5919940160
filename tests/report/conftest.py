"""A monitoring report of the tiny synthetic dataset, made once: fake predictions (no
model), `plantwatch aggregate` for years and months (with ``--report``), then `plantwatch
report` over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantwatch.cli import main
from tests.data.monitoring_fakes import fake_predictions


@pytest.fixture(scope="session")
def monitoring_report(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``{"report": folder, "estimates": folder, "predictions": csv, "dataset": folder}``."""
    root = tmp_path_factory.mktemp("monitoring")
    predictions = fake_predictions(tiny_dataset, root / "predictions")
    estimates = root / "estimates"
    common = ["--dataset", str(tiny_dataset), "--truth", str(tiny_dataset / "truth_daily.csv"),
              "--n-boot", "200"]  # fmt: skip
    main(["aggregate", str(predictions), str(estimates), "--period", "year", *common])
    main(["aggregate", str(predictions), str(estimates), "--period", "month", *common,
          "--report", str(root / "report")])  # the report of both periods  # fmt: skip
    main(["report", str(estimates), str(root / "report"), "--scenes", "4"])  # replaces it
    return {"report": root / "report", "estimates": estimates, "predictions": predictions,
            "dataset": tiny_dataset}  # fmt: skip
