"""What the README and the docs tell a reader to type runs. The README is a newcomer's page:
its quickstart fits a screen, it states that the results are synthetic, shows no result
figures and refers to no issue. Every fenced command of the README and the docs runs here —
page after page in one fresh folder, at tiny sizes — unless it is marked ``# needs: …``
(credentials, internet, a GPU, a browser, a dataset or the minutes of a whole study)."""

import os
import re
import shlex
from pathlib import Path

import pytest

from plantwatch.cli import main

REPO = Path(__file__).parents[1]
README = REPO / "README.md"
# The pages in the order a reader follows them: later pages use what earlier ones made.
PAGES = ["README.md", "docs/training.md", "docs/monitoring.md", "docs/data.md", "docs/gpus.md",
         "docs/pretraining.md", "models/README.md", "docs/benge.md", "docs/benchmarks.md",
         "docs/studies.md", "docs/active_learning.md", "docs/acquisition.md",
         "docs/cluster.md"]  # fmt: skip
SHELL = {"make test": "runs this suite", ". .venv/bin/activate": "a shell's"}
MAKE = {"make demo": [["demo"]], "make bench": [["bench", "data"], ["bench", "fit"]]}
# Options made tiny wherever they appear, and what a training command gets appended.
SHRINK = {"--plants": "6", "--per-plant": "2", "--size": "32", "--workers": "0",
          "--seconds": "0.2", "--steps": "2", "--batch-size": "2"}  # fmt: skip
TRAIN = ["--data.init_args.batch_size=4", "--data.init_args.num_workers=0",
         "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
         "--trainer.limit_val_batches=1", "--trainer.log_every_n_steps=1",
         "--trainer.enable_progress_bar=false"]  # fmt: skip
SOURCE = "--data.init_args.source.init_args"


def fenced_commands(text: str) -> list[str]:
    """The commands of the ``bash`` blocks: continuation lines joined, comments kept,
    comment-only lines left out."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        joined = re.sub(r"\\\n\s*", "", block)
        commands += [line.strip() for line in joined.splitlines()
                     if line.strip() and not line.strip().startswith("#")]  # fmt: skip
    return commands


def tiny(words: list[str]) -> list[str]:
    """``plantwatch`` arguments at tiny sizes."""
    words = [SHRINK.get(words[i - 1], w) if i else w for i, w in enumerate(words)]
    if words[0] not in ("fit", "demo"):
        return words
    configs = " ".join(words)
    if "benge" in configs:
        data = [f"{SOURCE}.patches=12", f"{SOURCE}.size=66"]
    else:
        data = [f"{SOURCE}.plants=8", f"{SOURCE}.per_plant=3", f"{SOURCE}.size=32"]
    return [*words, *data, *TRAIN]


def test_the_quickstart_fits_a_screen_and_says_the_results_are_synthetic():
    text = README.read_text()
    quickstart = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert len(quickstart.splitlines()) <= 60
    assert "Every result in this repository is on synthetic data" in text
    assert not re.search(r"\bissue\b", text, flags=re.IGNORECASE)
    results = r"\d\s*(MW|t/h|TWh|samples/s|TFLOP)\b|\d+(\.\d+)? ± \d|R² [-\d]|IoU [\d.]"
    assert not re.search(results, text), re.search(results, text)


def test_every_page_with_commands_is_run_in_order():
    pages = [p for p in [README, *(REPO / "docs").glob("*.md"), *REPO.glob("*/README.md")]
             if fenced_commands(p.read_text())]  # fmt: skip
    assert {str(p.relative_to(REPO)) for p in pages} <= set(PAGES)


@pytest.mark.parametrize(
    "pages", [PAGES[:1], pytest.param(PAGES, marks=pytest.mark.slow)], ids=["readme", "all"]
)
def test_every_documented_command_runs_or_is_marked(pages, tmp_path, monkeypatch, capsys):
    """The README's commands in make test (30 s); all pages with -m slow (3 min)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLANTWATCH_ZOO", raising=False)
    for name in ("experiments", "data_sources"):  # the checkout's configs and registries
        os.symlink(REPO / name, tmp_path / name)
    for page in pages:
        for line in fenced_commands((REPO / page).read_text()):
            command, _, comment = line.partition("#")
            command = command.strip()
            if "needs:" in comment or command in SHELL:
                continue
            assert "…" not in command, f"{page}: {line}: a placeholder"
            runs = MAKE.get(command) or [shlex.split(command)[1:]]
            assert command.startswith(("plantwatch ", "make ")), (
                f"{page}: {line}: run it here or mark it # needs: …"
            )
            for words in runs:
                main(tiny(words))
                printed = capsys.readouterr().out
                assert printed.strip(), f"{page}: {line} printed nothing"
    run = tmp_path / "runs" / "quickstart" / "version_0"
    assert (run / "checkpoints" / "best.ckpt").is_file()
    assert (run / "predictions" / "predictions.csv").is_file()
    assert (run / "estimates" / "estimates_year.csv").is_file()


@pytest.mark.parametrize("line", ["plantwatch fit --config quickstart  # x"])
def test_commands_are_read_with_their_comments(line):
    assert fenced_commands(f"```bash\n# a comment\n{line}\n```") == [line]
