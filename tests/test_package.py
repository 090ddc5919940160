"""``pip install .`` (not editable) carries what plantwatch reads at run time, and the commands
work from any folder: the bundled configs, the dataset manifests, the evalscripts."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

OUTSIDE = """
import sys
from pathlib import Path
import plantwatch
assert Path(plantwatch.__file__).is_relative_to(Path(sys.argv[1])), plantwatch.__file__
from plantwatch.data.tools.fetch import Manifest, manifest_path
from plantwatch.sources.sentinel import EVALSCRIPTS
from plantwatch.cli import main
assert Manifest.read(manifest_path("smoke-plumes")).doi
assert (EVALSCRIPTS / "s2l2a.js").read_text().startswith("//VERSION=3")
for argv in (["demo", "--help"], ["data", "fetch", "--help"],
             ["fit", "--config", "quickstart", "--config", "gpu", "--print_config"]):
    try:
        main(argv)
    except SystemExit as done:
        assert done.code in (0, None), argv
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel of this checkout, installed (without its dependencies) into a folder."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"  # a copy: building in the checkout would leave build/ there
    shutil.copytree(ROOT / "plantwatch", source / "plantwatch",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    build = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
             "--no-build-isolation", "--quiet", "-w", str(base / "dist")]  # fmt: skip
    subprocess.run(build, check=True, capture_output=True, timeout=300, cwd=base)
    wheel = next((base / "dist").glob("plantwatch-*.whl"))
    install = [sys.executable, "-m", "pip", "install", str(wheel), "--no-deps", "--quiet",
               "--target", str(base / "site")]  # fmt: skip
    subprocess.run(install, check=True, capture_output=True, timeout=300, cwd=base)
    return base / "site"


def test_the_installed_package_runs_its_commands_from_another_folder(installed, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(installed), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", OUTSIDE, str(installed)], env=env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "usage: plantwatch demo" in done.stdout and "usage: plantwatch data fetch" in done.stdout
    assert "accelerator: gpu" in done.stdout and "PlantObservations" in done.stdout
    assert not list(tmp_path.iterdir())  # help and --print_config write nothing
