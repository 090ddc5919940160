"""The README is a newcomer's page: its quickstart fits a screen, it states that the results
are synthetic, shows no result figures, refers to no issue, and every command in it runs —
here, in a fresh folder and at tiny sizes — unless it is marked ``# needs: …``."""

import re
import shlex
from pathlib import Path

import pytest

from plantwatch.cli import main

README = Path(__file__).parents[1] / "README.md"
# Appended to the commands that train, so that the README's commands run in seconds.
SOURCE = "--data.init_args.source.init_args"
TINY = [f"{SOURCE}.plants=8", f"{SOURCE}.per_plant=3", f"{SOURCE}.size=32",
        "--data.init_args.batch_size=4",
        "--data.init_args.num_workers=0", "--trainer.max_epochs=1",
        "--trainer.enable_progress_bar=false", "--trainer.precision=32-true"]  # fmt: skip
NOT_PLANTWATCH = {"make test": "runs this suite", ". .venv/bin/activate": "a shell's"}


def fenced_commands(text: str) -> list[str]:
    """The commands of the ``bash`` blocks: continuation lines joined, comments kept."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        joined = re.sub(r"\\\n\s*", "", block)
        commands += [line.strip() for line in joined.splitlines() if line.strip()]
    return commands


def test_the_quickstart_fits_a_screen_and_says_the_results_are_synthetic():
    text = README.read_text()
    quickstart = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert len(quickstart.splitlines()) <= 60
    assert "Every result in this repository is on synthetic data" in text
    assert not re.search(r"\bissue\b", text, flags=re.IGNORECASE)
    results = r"\d\s*(MW|t/h|TWh|samples/s|TFLOP)\b|\d+(\.\d+)? ± \d|R² [-\d]|IoU [\d.]"
    assert not re.search(results, text), re.search(results, text)
    assert "…" not in "\n".join(fenced_commands(text))  # no placeholders to fill in


def test_every_readme_command_runs_or_is_marked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for line in fenced_commands(README.read_text()):
        command, _, comment = line.partition("#")
        command = command.strip()
        if "needs:" in comment or command in NOT_PLANTWATCH:
            continue
        words = shlex.split(command)
        if words[:2] == ["make", "demo"]:
            words = ["plantwatch", "demo"]  # what the Makefile runs
        assert words[0] == "plantwatch", f"{line}: run it in a test or mark it # needs: …"
        trains = words[1] in ("fit", "demo")
        main(words[1:] + (TINY if trains else []))
        assert "wrote" in capsys.readouterr().out.replace("run folder", "wrote"), line
    run = tmp_path / "runs" / "quickstart" / "version_0"
    assert (run / "checkpoints" / "best.ckpt").is_file()
    assert (run / "predictions" / "predictions.csv").is_file()
    assert (run / "estimates" / "estimates_year.csv").is_file()


@pytest.mark.parametrize("line", ["plantwatch fit --config quickstart  # x"])
def test_commands_are_read_with_their_comments(line):
    assert fenced_commands(f"```bash\n{line}\n```") == [line]
