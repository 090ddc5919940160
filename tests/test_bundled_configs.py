"""Bundled configs are found by name from any folder; a file of that path wins."""

from pathlib import Path

from plantwatch.bundled_configs import bundled_names, config_path, with_bundled_configs


def test_the_quickstart_and_the_trainer_presets_ship_with_the_package():
    assert bundled_names() == ["cpu", "ddp", "gpu", "quickstart"]
    assert Path(config_path("quickstart")).read_text().startswith("# The multitask model")
    assert config_path("quickstart.yaml") == config_path("quickstart")


def test_names_are_replaced_in_every_spelling_and_files_win(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bundled = config_path("gpu")
    args = ["fit", "--config", "quickstart", "--config=gpu", "-c", "ddp", "--config", "mine"]
    assert with_bundled_configs(args) == [
        "fit", "--config", config_path("quickstart"), f"--config={bundled}", "-c",
        config_path("ddp"), "--config", "mine",
    ]  # fmt: skip
    Path("quickstart").write_text("trainer: {}\n")  # a file of that name in the folder
    assert config_path("quickstart") == "quickstart" and config_path("data/gpu") == "data/gpu"
