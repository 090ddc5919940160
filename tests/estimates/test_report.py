"""`plantwatch aggregate`: predictions → estimates, scores against the truth, figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plantwatch import physics
from plantwatch.cli import main


def write_inputs(tmp_path: Path) -> tuple[Path, Path]:
    """Predictions of plant A (four overpasses in 2021, each exactly right, 250 MW) and a
    daily truth of A running at 250 MW every day of 2021 and 2022."""
    predictions = pd.DataFrame({
        "obs_id": [f"A_{d}" for d in range(4)], "plant_id": "A",
        "datetime": ["2021-02-01T10:00:00Z", "2021-05-01T10:00:00Z", "2021-08-01T10:00:00Z",
                     "2021-11-01T10:00:00Z"],
        "capacity_mw": 500.0, "power_mw": 250.0, "power_mw_low": 200.0, "power_mw_high": 300.0,
        "co2_t_per_h": 200.0,
    })  # fmt: skip
    days = pd.date_range("2021-01-01", "2022-12-31", freq="D").strftime("%Y-%m-%d")
    truth = pd.DataFrame({"plant_id": "A", "date": days, "generation_mwh": 250.0 * 24,
                          "co2_t": 200.0 * 24})  # fmt: skip
    predictions.to_csv(tmp_path / "predictions.csv", index=False)
    truth.to_csv(tmp_path / "truth_daily.csv", index=False)
    return tmp_path / "predictions.csv", tmp_path / "truth_daily.csv"


def test_aggregate_scores_annual_estimates_against_the_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    predictions, truth = write_inputs(tmp_path)
    main(["aggregate", str(predictions), str(tmp_path / "out"), "--truth", str(truth)])
    estimates = pd.read_csv(tmp_path / "out" / "estimates_year.csv", dtype={"period": str})
    assert estimates[["plant_id", "period", "n_obs"]].values.tolist() == [["A", "2021", 4]]
    assert estimates["generation_mwh"].iat[0] == pytest.approx(250.0 * 8760)
    scores = pd.read_csv(tmp_path / "out" / "scores_year.csv").set_index("quantity")
    assert scores.loc["generation_mwh", "rmse"] == pytest.approx(0.0, abs=1e-9)  # TWh
    assert scores.loc["generation_mwh", "coverage"] == 1.0
    assert scores.loc["co2_t", "unit"] == "Mt"
    printed = capsys.readouterr().out
    assert "| plantwatch (mean) | generation_mwh | 1 | 0.000 TWh" in printed
    assert "0 plant-years have no truth" in printed and "daytime only" in printed
    assert (tmp_path / "out" / "figures" / "A_year.png").stat().st_size > 1000


def test_monthly_reported_truth_is_refused(tmp_path: Path, capsys) -> None:
    predictions, _ = write_inputs(tmp_path)
    reported = tmp_path / "reported.csv"
    reported.write_text("plant_id,year,generation_mwh,co2_t\nA,2021,2190000,1752000\n")
    with pytest.raises(SystemExit) as stop:
        main(["aggregate", str(predictions), str(tmp_path / "out"), "--truth", str(reported),
              "--period", "month"])  # fmt: skip
    assert stop.value.code == 2 and "annual" in capsys.readouterr().err
    main(["aggregate", str(predictions), str(tmp_path / "out"), "--truth", str(reported)])
    scores = pd.read_csv(tmp_path / "out" / "scores_year.csv").set_index("quantity")
    assert scores.loc["generation_mwh", "rmse"] == pytest.approx(0.0, abs=1e-9)


def test_entsoe_generation_is_the_truth_of_complete_months(tmp_path: Path, capsys) -> None:
    from tests.data.entsoe_fakes import SFTP, two_plants, write_generation_file, write_registry

    registry = write_registry(tmp_path / "plants.geojson", two_plants())
    hours = pd.date_range("2021-02-01", "2021-03-01", freq="h", inclusive="left")
    rows = [(u, f"{t:%Y-%m-%d %H:%M}", mw, "10Y") for t in hours
            for u, mw in (("U1A", 400.0), ("U1B", 300.0))]  # fmt: skip
    rows += [("U1A", "2021-03-01 00:00", 400.0, "10Y")]  # March: one hour only, incomplete
    generation = write_generation_file(tmp_path / "gen.csv", rows, SFTP)
    predictions = pd.DataFrame({
        "obs_id": ["a", "b", "c", "d"], "plant_id": "P1",
        "datetime": ["2021-02-03T10:00:00Z", "2021-02-13T10:00:00Z", "2021-02-23T10:00:00Z",
                     "2021-03-05T10:00:00Z"],
        "power_mw": [700.0, 650.0, 750.0, 700.0],
    })  # fmt: skip
    predictions.to_csv(tmp_path / "predictions.csv", index=False)
    main(["aggregate", str(tmp_path / "predictions.csv"), str(tmp_path / "out"), "--period",
          "month", "--truth-generation", str(generation), "--registry", str(registry)])  # fmt: skip
    scores = pd.read_csv(tmp_path / "out" / "scores_month.csv")
    assert scores["quantity"].tolist() == ["generation_mwh"]  # no CO₂ truth in 16.1.A
    row = scores.iloc[0]
    assert row["n"] == 1  # February only: March is incomplete
    assert row["rmse"] == pytest.approx(0.0, abs=1e-9)  # 700 MW × 672 h both ways
    with pytest.raises(SystemExit) as stop:
        main(["aggregate", str(tmp_path / "predictions.csv"), str(tmp_path / "o2"),
              "--truth-generation", str(generation)])  # fmt: skip
    assert stop.value.code == 2 and "--registry" in capsys.readouterr().err


def test_rows_without_a_time_or_a_value_are_named_and_left_out(tmp_path: Path, capsys) -> None:
    predictions, truth = write_inputs(tmp_path)
    table = pd.read_csv(predictions)
    gaps = pd.DataFrame({"obs_id": ["A_late", "A_blank"], "plant_id": "A",
                         "datetime": ["", "2021-12-01T10:00:00Z"], "capacity_mw": 500.0,
                         "power_mw": [900.0, None], "co2_t_per_h": [900.0, 200.0]})  # fmt: skip
    pd.concat([table, gaps]).to_csv(predictions, index=False)
    main(["aggregate", str(predictions), str(tmp_path / "out"), "--truth", str(truth)])
    printed = capsys.readouterr().out
    assert "left out: 1 rows with no datetime, 1 rows with no power_mw (e.g. A_late, A_blank" in (
        printed
    )
    unused = pd.read_csv(tmp_path / "out" / "unused_rows_year.csv")
    assert unused.values.tolist() == [["A_late", "no datetime"], ["A_blank", "no power_mw"]]
    estimates = pd.read_csv(tmp_path / "out" / "estimates_year.csv").iloc[0]
    assert estimates["generation_mwh"] == pytest.approx(250.0 * 8760)  # the 4 with a value
    assert estimates["co2_t"] == pytest.approx(200.0 * 8760)  # 5 rows: A_blank counts here
    assert estimates["n_obs"] == 5


def test_a_rerun_replaces_the_last_outputs_and_a_foreign_folder_is_refused(
    tmp_path: Path, capsys
) -> None:
    predictions, truth = write_inputs(tmp_path)
    table = pd.read_csv(predictions)
    pd.concat([table, table.assign(plant_id="B", obs_id=table["obs_id"] + "b")]).to_csv(
        tmp_path / "two.csv", index=False
    )
    out = tmp_path / "out"
    main(["aggregate", str(tmp_path / "two.csv"), str(out), "--truth", str(truth)])
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["A_year.png", "B_year.png"]
    main(["aggregate", str(tmp_path / "two.csv"), str(out), "--period", "month"])
    main(["aggregate", str(predictions), str(out)])  # no truth, plant A only
    # the months stay as they were; the years are replaced: no scores, no plant B
    assert sorted(p.name for p in out.iterdir()) == [
        "aggregate_month.json", "aggregate_year.json", "estimates_month.csv",
        "estimates_year.csv", "figures",
    ]  # fmt: skip
    assert sorted(p.name for p in (out / "figures").iterdir()) == [
        "A_month.png", "A_year.png", "B_month.png",
    ]  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main(["aggregate", str(predictions), str(mine)])
    assert stop.value.code == 2 and "did not write" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_the_naive_reference_of_a_dataset_matches_a_hand_computation(
    tmp_path: Path, tiny_dataset: Path
) -> None:
    table = pd.read_csv(tiny_dataset / "observations.csv", dtype={"obs_id": str, "plant_id": str})
    test_ids = (tiny_dataset / "splits" / "test.txt").read_text().split()
    train_ids = (tiny_dataset / "splits" / "train.txt").read_text().split()
    observed = table.set_index("obs_id").loc[test_ids].reset_index()
    exact = observed.rename(columns={"generation_mw": "power_mw"})[
        ["obs_id", "plant_id", "datetime", "capacity_mw", "power_mw", "co2_t_per_h"]]
    exact.to_csv(tmp_path / "predictions.csv", index=False)  # a perfect model of each overpass
    out = tmp_path / "out"
    main(["aggregate", str(tmp_path / "predictions.csv"), str(out), "--dataset",
          str(tiny_dataset), "--truth", str(tiny_dataset / "truth_daily.csv")])  # fmt: skip
    scores = pd.read_csv(out / "scores_year.csv").set_index(["estimate", "quantity"])

    train = table.set_index("obs_id").loc[train_ids]
    load = (train["generation_mw"] / train["capacity_mw"]).groupby(train["fuel_type"]).mean()
    daily = pd.read_csv(tiny_dataset / "truth_daily.csv", dtype={"plant_id": str})
    daily["year"] = daily["date"].str[:4]
    truth = daily.groupby(["plant_id", "year"])["generation_mwh"].sum()
    years = observed.assign(year=observed["datetime"].str[:4])[
        ["plant_id", "year", "capacity_mw", "fuel_type"]].drop_duplicates(["plant_id", "year"])
    hours = years["year"].map(lambda y: 8784.0 if int(y) % 4 == 0 else 8760.0)
    reference = years["capacity_mw"] * years["fuel_type"].map(load) * hours
    errors = reference.to_numpy() - truth.loc[list(zip(years["plant_id"], years["year"],
                                                       strict=True))].to_numpy()  # fmt: skip
    naive = scores.loc[("naive reference", "generation_mwh")]
    assert naive["n"] == len(years)
    assert naive["rmse"] == pytest.approx(np.sqrt((errors**2).mean()) / 1e6)  # TWh
    assert naive["bias"] == pytest.approx(errors.mean() / 1e6)
    # a perfect per-overpass model is exactly the sampling-only estimate
    model = scores.loc[("plantwatch (mean)", "generation_mwh")]
    sampling = scores.loc[("true overpass values (sampling only)", "generation_mwh")]
    assert model[["rmse", "mae", "bias"]].tolist() == pytest.approx(
        sampling[["rmse", "mae", "bias"]].tolist()
    )


def exact_predictions(dataset: Path, split: str, fuel: str | None = None) -> pd.DataFrame:
    """A perfect per-overpass model of a split (``fuel``: every fuel predicted as it)."""
    table = pd.read_csv(dataset / "observations.csv", dtype={"obs_id": str, "plant_id": str})
    ids = (dataset / "splits" / f"{split}.txt").read_text().split()
    table = table.set_index("obs_id").loc[ids].reset_index()
    out = table.rename(columns={"generation_mw": "power_mw"})[
        ["obs_id", "plant_id", "datetime", "capacity_mw", "power_mw", "co2_t_per_h"]]
    out = out.assign(fuel_pred=fuel or table["fuel_type"])
    return out.assign(**{f"fuel_prob_{name}": (out["fuel_pred"] == name).astype(float)
                         for name in physics.FUEL_NAMES})  # fmt: skip


def test_the_pooled_method_calibrates_on_the_validation_plants_and_checks_the_fuel(
    tmp_path: Path, tiny_dataset: Path, capsys
) -> None:
    exact_predictions(tiny_dataset, "test", fuel="gas").to_csv(tmp_path / "test.csv", index=False)
    exact_predictions(tiny_dataset, "val").to_csv(tmp_path / "val.csv", index=False)
    out, truth = tmp_path / "out", tiny_dataset / "truth_daily.csv"
    with pytest.raises(SystemExit) as stop:
        main(["aggregate", str(tmp_path / "test.csv"), str(out), "--method", "pooled"])
    assert stop.value.code == 2 and "--calibration" in capsys.readouterr().err
    main(["aggregate", str(tmp_path / "test.csv"), str(out), "--dataset", str(tiny_dataset),
          "--calibration", str(tmp_path / "val.csv"), "--truth", str(truth)])  # fmt: skip
    record = json.loads((out / "aggregate_year.json").read_text())
    assert record["method"] == "pooled" and record["calibration"] == [str(tmp_path / "val.csv")]
    estimates = pd.read_csv(out / "estimates_year.csv", dtype={"plant_id": str})
    assert (estimates["generation_mwh_low"] <= estimates["generation_mwh"]).all()
    assert (estimates["generation_mwh"] <= estimates["generation_mwh_high"]).all()
    assert (estimates["generation_mwh_high"] <= estimates["capacity_mw"] * estimates["hours"]
            + 1e-6).all()  # fmt: skip
    plants = pd.read_csv(tiny_dataset / "observations.csv", dtype={"plant_id": str})
    fuel = plants.groupby("plant_id")["fuel_type"].first()
    factor = estimates["plant_id"].map(fuel).map(
        lambda f: physics.FUELS[physics.fuel_index(f)].ef_t_per_mwh
    )  # the known fuel's, although the model called every plant gas
    assert estimates["t_co2_per_mwh"].to_numpy() == pytest.approx(factor.to_numpy())
    checks = pd.read_csv(out / "fuel_check.csv")
    assert set(checks["fuel_predicted"]) == {"gas"}
    assert checks["disagrees"].sum() == (checks["fuel_type"] != "gas").sum() > 0
    summary = (out / "summary_year.md").read_text()
    assert "plantwatch (pooled)" in summary and "disagrees for" in summary

