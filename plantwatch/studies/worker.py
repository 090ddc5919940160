"""Run one study run in its own process: ``python -m plantwatch.studies.worker RUN_DIR``.

Reads ``RUN_DIR/args.json``, resumes from ``checkpoints/last.ckpt`` when a killed attempt left
one, fits and tests, scores the baselines on the same test split (``baselines.json``: they
depend on the split and the label fraction, not on the model), and only then writes
``metrics.json`` (atomically): a run without it is unfinished and never enters the results.
Each attempt appends a line to ``attempts.log``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

METRICS = "metrics.json"
BASELINES = "baselines.json"
ARGS = "args.json"
ATTEMPTS = "attempts.log"


def run(run_dir: Path) -> dict[str, float]:
    """Execute the run in ``run_dir``; returns its test metrics."""
    from plantwatch.tasks.baselines import datamodule_baselines
    from plantwatch.training.cli import fit_and_test

    args = json.loads((run_dir / ARGS).read_text())
    last = run_dir / "checkpoints" / "last.ckpt"
    resume = str(last) if last.is_file() else None
    with (run_dir / ATTEMPTS).open("a") as log:
        log.write(
            f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} start resume={resume is not None}\n"
        )
    start = time.perf_counter()
    metrics, cli = fit_and_test(args, ckpt_path=resume)
    record = {**metrics, "wall_s": round(time.perf_counter() - start, 1)}
    baselines = datamodule_baselines(cli.datamodule, cli.model.specs)
    for name, values in ((BASELINES, baselines), (METRICS, record)):
        partial = run_dir / f"{name}.partial"
        partial.write_text(json.dumps(values, indent=2))
        os.replace(partial, run_dir / name)
    return record


if __name__ == "__main__":
    run(Path(sys.argv[1]))
