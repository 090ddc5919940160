"""``--trainer.limit_val_batches 1`` is one batch in every entry point, whatever was imported
before Lightning (scikit-learn first made typing hand Lightning a float-first union)."""

import subprocess
import sys
from pathlib import Path
from typing import Union

from plantwatch.training.number_arguments import int_before_float

ENTRY_POINTS = """
import sklearn.model_selection  # first, as the notebooks, the demo and the studies did
from pathlib import Path
import lightning as L
import plantwatch.demo, plantwatch.studies.worker  # the demo's and the studies' modules
from plantwatch.demo import run_demo
from tests.data.fakes import tiny_cli_args

class CountValidationBatches(L.Callback):
    def on_validation_end(self, trainer, pl_module):
        print("validation batches:", trainer.num_val_batches, type(trainer.limit_val_batches))

base = Path({base!r})
run_demo(overrides=[*tiny_cli_args(base / "ds", base / "runs"), "--trainer.max_epochs=1",
         "--trainer.limit_val_batches", "1", "--trainer.limit_test_batches", "1",
         "--trainer.callbacks+=__main__.CountValidationBatches"])
"""


def test_a_union_of_float_and_int_is_rewritten_int_first():
    def trainer(limit=None, rate: float = 1.0, n: int = 1) -> None:
        """A stand-in for the Trainer: ``limit`` as typing hands it over after scikit-learn
        (built flat here: a nested ``Optional[Union[…]]`` would enter typing's cache)."""

    trainer.__annotations__["limit"] = Union[float, int, None]  # noqa: UP007 (the point)
    int_before_float(trainer)
    assert trainer.__annotations__["limit"] == int | float | None
    assert trainer.__annotations__["limit"].__args__ == (int, float, type(None))
    assert trainer.__annotations__["rate"] is float and trainer.__annotations__["n"] is int


def test_one_validation_batch_after_scikit_learn_was_imported_first(tmp_path):
    root = Path(__file__).parents[2]
    code = ENTRY_POINTS.format(base=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=root, env={"OMP_NUM_THREADS": "1",
                          "HF_HUB_OFFLINE": "1", "PATH": ""})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    counted = [line for line in done.stdout.splitlines() if line.startswith("validation")]
    assert counted and all(line == "validation batches: [1] <class 'int'>" for line in counted)
