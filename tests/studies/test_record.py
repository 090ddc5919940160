"""A study record from a per-run table: rounding, paired intervals, choice on validation,
baselines only where they predict, figures that show the differences."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from plantwatch.studies.figures import dot_figure, nominal_level, panels_figure
from plantwatch.studies.record import chosen_lines, summary_table, without_unpredicted
from plantwatch.studies.results import write_study_record, zoo_cards
from plantwatch.studies.spec import Study, encoder_names
from plantwatch.studies.statistics import (
    difference_cell,
    paired_differences,
    per_split_means,
    with_spread,
)
from plantwatch.tasks.baselines import CAPACITY, MEAN

REPO = Path(__file__).parents[2]


def study_file(tmp_path: Path, **keys) -> Study:
    spec = {"name": "toy", "base": ["quickstart"], "seeds": [0, 1, 2], "split_seeds": [0, 1],
            "variants": {"a": {}, "b": {}, "single_power": {}}, **keys}  # fmt: skip
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(spec))
    return Study.from_yaml(path)


def toy_runs(shift: float = -10.0) -> pd.DataFrame:
    """Variant b is a's power MAE + ``shift`` (+ small noise), per (seed, split); the split
    moves both by 100 MW: unpaired, the split's spread would hide the shift."""
    rng = np.random.default_rng(0)
    rows = []
    for split in (0, 1):
        for seed in (0, 1, 2):
            base = 200.0 + 100.0 * split + rng.normal(0, 5)
            noise = rng.normal(0, 1)
            rows += [
                {"variant": "a", "seed": seed, "power_mae_mw": base, "plume_iou": 0.7,
                 "val_selection_loss": 0.5, "val_power_mae_mw": 150.0},
                {"variant": "b", "seed": seed, "power_mae_mw": base + shift + noise,
                 "plume_iou": 0.71, "val_selection_loss": 0.6, "val_power_mae_mw": 140.0},
                {"variant": "single_power", "seed": seed, "power_mae_mw": base - 50,
                 "val_selection_loss": 0.1, "val_power_mae_mw": 100.0},
            ]  # fmt: skip
            for row in rows[-3:]:
                row.update(split_seed=split, label_fraction=1.0, wall_s=60.0)
        baselines = {MEAN: {"power_mae_mw": 600.0, "plume_iou": 0.0},
                     CAPACITY: {"power_mae_mw": 330.0, "fuel_accuracy": 0.2}}  # fmt: skip
        for name, values in baselines.items():
            rows.append({"variant": name, "seed": np.nan, "split_seed": split,
                         "label_fraction": 1.0, **values})  # fmt: skip
    return pd.DataFrame(rows)


def test_values_are_rounded_to_two_significant_digits_of_their_spread():
    assert with_spread(332.306, 89.492) == "332 ± 89"
    assert with_spread(0.86231, 0.0381) == "0.862 ± 0.038"
    assert with_spread(203.31, 6.84) == "203.3 ± 6.8"
    assert with_spread(0.637, np.nan) == "0.637"  # one split: no spread, no "± nan"
    assert with_spread(np.nan, np.nan) == "–"


def test_paired_differences_follow_the_t_interval_of_the_per_pair_differences():
    runs = toy_runs()
    table = paired_differences(runs[runs["variant"].isin(["a", "b"])], "a", ("power_mae_mw",))
    row = table.iloc[0]
    pairs = runs[runs["variant"] == "b"]["power_mae_mw"].to_numpy() - runs[
        runs["variant"] == "a"]["power_mae_mw"].to_numpy()  # fmt: skip
    half = stats.t.ppf(0.975, 5) * pairs.std(ddof=1) / math.sqrt(6)
    assert row["n"] == 6 and row["mean"] == pytest.approx(pairs.mean())
    assert (row["low"], row["high"]) == pytest.approx((pairs.mean() - half, pairs.mean() + half))
    assert row["high"] < 0  # the shift of −10 MW shows although the splits differ by 100 MW
    cell = difference_cell(row, higher_is_better=False)
    assert cell.startswith("**−") and "[" in cell  # lower MAE: better, in bold
    assert difference_cell(row, higher_is_better=True).endswith("(worse)")


def test_only_runs_sharing_seed_and_split_are_paired():
    runs = toy_runs()
    runs = runs[~((runs["variant"] == "b") & (runs["seed"] == 0))]  # b's seed-0 runs failed
    table = paired_differences(runs[runs["variant"].isin(["a", "b"])], "a", ("power_mae_mw",))
    assert table.iloc[0]["n"] == 4


def test_per_split_means_average_the_seeds():
    means = per_split_means(toy_runs(), ("power_mae_mw",))
    runs = toy_runs()
    expected = runs[(runs["variant"] == "a") & (runs["split_seed"] == 1)]["power_mae_mw"].mean()
    assert means.loc[("a", 1.0, 1), "power_mae_mw"] == pytest.approx(expected)


def test_baselines_are_shown_only_on_the_tasks_they_predict(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    cleaned = without_unpredicted(toy_runs(), study_file(tmp_path))
    mean = cleaned[cleaned["variant"] == MEAN]
    capacity = cleaned[cleaned["variant"] == CAPACITY]
    assert mean["plume_iou"].isna().all() and mean["power_mae_mw"].notna().all()
    assert capacity["fuel_accuracy"].isna().all() and capacity["power_mae_mw"].notna().all()


def test_the_choice_is_made_on_a_comparable_validation_score(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    runs = toy_runs()
    study = study_file(tmp_path, baselines={"power": "single_power"})
    summary = summary_table(runs, study.validation_metrics)
    line = chosen_lines(study, summary)[0]
    # single_power's loss covers one task: lowest, but not comparable; b is better on test
    assert "**a**" in line and "among a, b," in line and "single_power" not in line
    study = study_file(tmp_path, baselines={"power": "single_power"}, selection="val_power_mae_mw")
    line = chosen_lines(study, summary_table(runs, study.validation_metrics))[0]
    assert "**b**" in line and "validation power MAE (MW)" in line


def test_a_record_is_written_again_from_its_tables_keeping_the_discussion(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    study = study_file(tmp_path, reference="a", headline=["power_mae_mw", "plume_iou"])
    out = tmp_path / "results"
    out.mkdir()
    toy_runs().to_csv(out / "toy.csv", index=False)
    (out / "toy_study.json").write_text(json.dumps({"figures": ["toy_old_metric.png"]}))
    (out / "toy_old_metric.png").write_bytes(b"stale")
    (out / "toy.md").write_text("# old\n\n## Discussion\n\nBy hand.\n")
    record = write_study_record(study, out).read_text()
    assert record.endswith("## Discussion\n\nBy hand.\n") and "# old" not in record
    assert "not recorded" in record  # no compare call in the facts: no invented time
    assert "Paired differences against **a**" in record and "Per split" in record
    assert "%" not in record.split("## Discussion")[0].replace("95%", "")  # no relative change
    assert not (out / "toy_old_metric.png").exists() and (out / "toy_power_mae_mw.png").is_file()


def test_a_dot_figure_spans_the_variants_and_names_far_baselines():
    runs = toy_runs()
    figure = dot_figure(runs, {MEAN: 600.0, CAPACITY: 330.0}, "power_mae_mw", ["a", "b"], "a")
    ax = figure.axes[0]
    low, high = ax.get_xlim()
    assert low > 100 and high < 600  # not from 0, and the far baseline does not squeeze it
    assert MEAN in ax.get_title(loc="left")
    coverage = dot_figure(runs.assign(power_coverage=0.85), {}, "power_coverage", ["a"], "a")
    assert any(t.get_text() == "nominal 90%" for t in coverage.axes[0].texts)
    assert nominal_level("power_coverage_80") == 0.8 and nominal_level("power_mae_mw") is None


def test_panels_show_the_number_of_labels_and_one_panel_per_variant():
    runs = pd.concat([toy_runs().assign(label_fraction=f, train_images=n)
                      for f, n in ((0.1, 18), (1.0, 176))])  # fmt: skip
    summary = summary_table(runs, ("power_mae_mw",))
    figure = panels_figure(summary, "power_mae_mw", ["a", "b", "single_power", MEAN], "a", [MEAN])
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["b", "single_power"]
    assert [t.get_text() for t in visible[0].get_xticklabels()] == ["18", "176"]


def test_the_record_names_each_pretrained_encoder_with_its_probe(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    zoo = tmp_path / "zoo"
    monkeypatch.setenv("PLANTWATCH_ZOO", str(zoo))
    cards = {"enc-a": {"method": "SamePlantTask", "data": {"root": "data/other_plants"},
                       "epochs": 12, "probe": {"knn_accuracy": 0.7, "knn_chance": 0.2}},
             "enc-b": {"method": "MultiTaskTask", "data": {"root": "data/ben-ge"}, "epochs": 3},
             "unused": {"method": "SimCLRTask", "epochs": 1}}  # fmt: skip
    for name, card in cards.items():
        (zoo / name).mkdir(parents=True)
        (zoo / name / "card.yaml").write_text(yaml.safe_dump({"name": name, **card}))
    frozen = tmp_path / "frozen_b.yaml"
    frozen.write_text(yaml.safe_dump({"model": {"init_args": {"encoder_checkpoint": "enc-b"}}}))
    study = study_file(tmp_path, reference="a", variants={
        "a": {"model": {"init_args": {"encoder_checkpoint": "enc-a"}}}, "b": [str(frozen)],
        "single_power": {}})  # fmt: skip
    assert encoder_names(study.variants) == ["enc-a", "enc-b"]
    out = tmp_path / "results"
    out.mkdir()
    toy_runs().to_csv(out / "toy.csv", index=False)
    facts = {"encoders": zoo_cards(encoder_names(study.variants))}
    (out / "toy_study.json").write_text(json.dumps(facts))
    header = write_study_record(study, out).read_text().split("## Results")[0]
    assert ("`enc-a` SamePlantTask on data/other_plants, checkpoint after 12 epochs, k-NN 0.700 "
            "(chance 0.200); `enc-b` MultiTaskTask on data/ben-ge, checkpoint after 3 epochs, "
            "no k-NN probe") in header and "unused" not in header  # fmt: skip
