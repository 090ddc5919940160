"""`plantwatch aggregate`: predictions → per-plant monthly or annual estimates with
intervals, scored against the truth where it is known, beside the naive reference.

Writes into ``OUT``: ``estimates_<period>.csv`` (one row per plant and period),
``scores_<period>.csv`` and ``summary_<period>.md`` (with a truth),
``figures/<plant>_<period>.png`` (estimates with intervals, the truth and the reference),
``unused_rows_<period>.csv`` (obs ids of rows without a time or a value, and why) and
``aggregate_<period>.json`` (the settings and the files written). Everything is written
into a scratch folder beside ``OUT`` (with the other period's outputs carried over) that
then takes its place: a rerun replaces the outputs of the last run of that period, never
mixes with them, and a killed run leaves ``OUT`` as it was. A folder that holds anything
else is refused.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from plantwatch.errors import UserError
from plantwatch.estimates.aggregate import aggregate_predictions, unusable_rows
from plantwatch.estimates.evaluation import RunEstimates
from plantwatch.estimates.plant_facts import (
    fuel_check,
    labelled_observations,
    plant_places,
    read_plant_facts,
    training_load_factors,
    true_overpass_values,
    with_plant_fuel,
)
from plantwatch.estimates.plant_figure import PlantSeries, plant_figure, plant_title
from plantwatch.estimates.truth import (
    naive_reference,
    score,
    truth_from_daily,
    truth_from_generation,
    truth_from_reported,
)
from plantwatch.files.atomic import replace_folder
from plantwatch.files.ids import checked_id
from plantwatch.files.tables import read_csv
from plantwatch.markdown_table import markdown_table
from plantwatch.sources.generation import GenerationSeries, read_annual_emissions
from plantwatch.sources.registry import PlantRegistry

AGGREGATE_JSON = "aggregate_{period}.json"  # the record of one period's outputs
MODEL_ESTIMATE, NAIVE_ESTIMATE = "plantwatch", "naive reference"
# The observed overpasses' true values aggregated alike: a perfect per-observation model,
# so its error is what the sampling of a few clear-sky days costs.
SAMPLING_ESTIMATE = "true overpass values (sampling only)"
BIASES = (
    "Biases the intervals do not cover: overpasses are daytime only (about 10:30 local solar "
    "time), clear-sky only (cloudy days, often in winter, are under-sampled), and months "
    "without an observation are missing from the estimates."
)


def read_predictions(paths: Sequence[str | Path]) -> pd.DataFrame:
    """One table from prediction CSVs (per-rank files of a multi-device run included),
    one row per observation."""
    frames = [read_csv(p, "a prediction table", dtype={"obs_id": str, "plant_id": str})
              for p in paths]  # fmt: skip
    table = pd.concat(frames, ignore_index=True)
    missing = [c for c in ("obs_id", "plant_id", "datetime") if c not in table]
    if missing:
        raise ValueError(
            f"{list(map(str, paths))}: no {missing} columns; write predictions with "
            "`plantwatch predict` of this version"
        )
    where = ", ".join(map(str, paths))
    table["plant_id"] = [checked_id(None if pd.isna(p) else p, "plant_id", where)
                         for p in table["plant_id"]]  # fmt: skip
    return table.drop_duplicates("obs_id").reset_index(drop=True)


def _unit_to_plant(registry: str | Path | None) -> dict[str, str]:
    if not registry:
        return {}
    units = PlantRegistry.read(registry).units()
    return dict(zip(units["unit_code"], units["plant_id"], strict=True))


def read_truth(path: str | Path, period: str, registry: str | Path | None = None) -> pd.DataFrame:
    """Truth per plant and period from a synthetic ``truth_daily.csv`` (columns ``date``,
    ``generation_mwh``, ``co2_t``) or reported annual figures (``read_annual_emissions``;
    per unit needs the ``registry`` that maps units to plants)."""
    table = read_csv(path, "a truth table", dtype={"plant_id": str}, nrows=1)
    if "date" in table:
        return truth_from_daily(pd.read_csv(path, dtype={"plant_id": str}), period)
    if period != "year":
        raise ValueError(f"{path}: reported figures are annual; use --period year")
    return truth_from_reported(read_annual_emissions(path), _unit_to_plant(registry))


def combined_truth(
    period: str,
    truth: str | Path | None = None,
    generation: Sequence[str | Path] = (),
    registry: str | Path | None = None,
) -> pd.DataFrame | None:
    """The truth table from ``truth`` (see :func:`read_truth`) and/or ENTSO-E 16.1.A
    ``generation`` files (needs the ``registry``); where both are given, ENTSO-E's
    generation replaces the reported one."""
    table = read_truth(truth, period, registry) if truth else None
    if not generation:
        return table
    if not registry:
        raise ValueError("--truth-generation needs --registry (units → plants)")
    measured = truth_from_generation(GenerationSeries.read(generation),
                                     _unit_to_plant(registry), period)  # fmt: skip
    if table is None:
        return measured
    merged = table.drop(columns="generation_mwh").merge(
        measured[["plant_id", "period", "generation_mwh"]], on=["plant_id", "period"], how="outer"
    )
    return merged


def read_daily_truth(path: str | Path | None) -> pd.DataFrame | None:
    """The daily truth table (``plant_id``, ``date``, ``generation_mwh``, ``co2_t``) where
    ``path`` is one; None for reported figures or no truth."""
    if not path or "date" not in read_csv(path, "a truth table", nrows=1):
        return None
    return pd.read_csv(path, dtype={"plant_id": str})


def plant_figures(
    folder: Path,
    period: str,
    predictions: pd.DataFrame,
    estimates: pd.DataFrame,
    tables: dict[str, pd.DataFrame | None],
    facts: pd.DataFrame | None,
    places: pd.DataFrame | None,
) -> list[str]:
    """``figures/<plant>_<period>.png`` of every plant (`plant_figure.plant_figure`) under
    ``folder``; ``tables``: ``daily``, ``truth`` and ``naive`` (each may be None)."""
    def own(table: pd.DataFrame | None, plant: str) -> pd.DataFrame | None:
        return None if table is None else table[table["plant_id"].astype(str) == plant]

    known = {} if facts is None else facts.set_index("plant_id").to_dict("index")
    names = {} if places is None else dict(zip(places["plant_id"], places["name"], strict=True))
    written = []
    for plant in sorted(estimates["plant_id"].unique()):
        others = (own(tables.get(k), plant) for k in ("daily", "truth", "naive"))
        series = PlantSeries(own(predictions, plant), own(estimates, plant), *others)
        fact = known.get(plant, {})
        title = plant_title(plant, names.get(plant), fact.get("fuel_type"),
                            fact.get("capacity_mw"))  # fmt: skip
        written.append(f"figures/{plant}_{period}.png")
        plant_figure(series, title, period).savefig(folder / written[-1], dpi=100)
    return written


def run_aggregate(
    predictions: Sequence[str | Path],
    out: str | Path,
    period: str = "year",
    truth: str | Path | None = None,
    dataset: str | Path | None = None,
    registry: str | Path | None = None,
    truth_generation: Sequence[str | Path] = (),
    level: float = 0.9,
    n_boot: int = 2000,
    min_observations: int = 3,
    seed: int = 0,
    method: str | None = None,
    calibration: Sequence[str | Path] = (),
) -> dict[str, Path]:
    """Aggregate, score and report (see the module docstring); returns the written files.

    ``method`` ``pooled`` (the default with ``calibration``: predictions of the validation
    split) shrinks each plant-period towards the fleet prior of the dataset's training
    plants, with intervals calibrated on the validation plant-periods where the truth covers
    them (`estimates/pooled.py`); ``mean`` (the default without) is the bootstrap of the
    overpass mean (`estimates/aggregate.py`). A plant whose fuel the registry (or else the
    dataset) gives has its CO₂ from that fuel, and ``fuel_check.csv`` lists its predicted
    fuel.

    Raises:
        UserError: ``out`` holds files of something else, no row has a time, or ``pooled``
            lacks its dataset or calibration predictions.
    """
    out = Path(out)
    records = sorted(out.glob(AGGREGATE_JSON.format(period="*"))) if out.is_dir() else []
    if out.exists() and any(out.iterdir()) and not records:
        raise UserError(f"{out}: holds files that plantwatch aggregate did not write; choose "
                        "an empty or new folder for OUT")  # fmt: skip
    method = method or ("pooled" if calibration else "mean")
    if method == "pooled" and not (dataset and calibration):
        raise UserError("--method pooled needs --dataset (its training plants make the fleet "
                        "prior) and --calibration (predictions of its validation split); or "
                        "use --method mean")  # fmt: skip
    table = read_predictions(predictions)
    unused = unusable_rows(table)
    table = table[~table["obs_id"].isin(unused.loc[unused["reason"] == "no datetime", "obs_id"])]
    if table.empty:
        raise UserError(f"{', '.join(map(str, predictions))}: no row has a datetime; predict "
                        "on a dataset whose observations have times")  # fmt: skip
    facts = read_plant_facts(dataset, registry)
    checks = None if facts is None else fuel_check(table, facts)
    table = with_plant_fuel(table, facts)
    scratch = out.with_name(f".{out.name}.partial")
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "figures").mkdir(parents=True)
    for record in records:  # the other period's outputs stay; this period's are replaced
        if record.name != AGGREGATE_JSON.format(period=period):
            for name in [*json.loads(record.read_text())["files"], record.name]:
                shutil.copy2(out / name, scratch / name)
    truth_table = combined_truth(period, truth, truth_generation, registry)
    if method == "pooled":
        validation = read_predictions(calibration)
        run = RunEstimates.learn(dataset, validation)
        validation = with_plant_fuel(validation, run.plants)
        estimates = run.calibrated(table, validation, truth_table, period, level)
    else:
        estimates = aggregate_predictions(table, period, level, n_boot, min_observations,
                                          seed=seed)  # fmt: skip
    written = {"estimates": f"estimates_{period}.csv"}
    estimates.to_csv(scratch / written["estimates"], index=False)
    if len(unused):
        written["unused"] = f"unused_rows_{period}.csv"
        unused.to_csv(scratch / written["unused"], index=False)
    if checks is not None and len(checks):
        written["fuel_check"] = "fuel_check.csv"
        checks.to_csv(scratch / written["fuel_check"], index=False)
    reference = None
    if dataset:
        reference = naive_reference(facts, estimates, training_load_factors(dataset))
    if truth_table is not None:
        scores = [score(estimates, truth_table, f"{MODEL_ESTIMATE} ({method})")]
        if reference is not None:
            scores.append(score(reference, truth_table, NAIVE_ESTIMATE))
            observations = labelled_observations(dataset)
            true_values = with_plant_fuel(true_overpass_values(observations, table), facts)
            sampled = aggregate_predictions(true_values, period, level, n_boot,
                                            min_observations, seed=seed)  # fmt: skip
            scores.append(score(sampled, truth_table, SAMPLING_ESTIMATE))
        table_out = pd.concat(scores, ignore_index=True)
        written["scores"] = f"scores_{period}.csv"
        table_out.to_csv(scratch / written["scores"], index=False)
        written["summary"] = f"summary_{period}.md"
        unmatched = len(estimates.merge(truth_table, on=["plant_id", "period"], how="left_anti"))
        (scratch / written["summary"]).write_text(
            _summary(table_out, estimates, period, level, truth or "ENTSO-E 16.1.A", unmatched,
                     checks)
        )
    tables = {"daily": read_daily_truth(truth), "truth": truth_table, "naive": reference}
    figures = plant_figures(scratch, period, table, estimates, tables, facts,
                            plant_places(dataset, registry))  # fmt: skip
    settings = {"predictions": list(map(str, predictions)), "period": period,
                "method": method, "calibration": list(map(str, calibration)),
                "truth": truth and str(truth), "dataset": dataset and str(dataset),
                "registry": registry and str(registry),
                "truth_generation": list(map(str, truth_generation)),
                "level": level, "n_boot": n_boot, "min_observations": min_observations,
                "seed": seed, "files": sorted(written.values()) + figures}  # fmt: skip
    record = scratch / AGGREGATE_JSON.format(period=period)
    record.write_text(json.dumps(settings, indent=2) + "\n")
    replace_folder(scratch, out)
    return {key: out / name for key, name in written.items()}


def _summary(
    scores: pd.DataFrame,
    estimates: pd.DataFrame,
    period: str,
    level: float,
    truth: object,
    unmatched: int,
    checks: pd.DataFrame | None = None,
) -> str:
    if "few_observations" in estimates:  # the mean
        few = (f"{int(estimates['few_observations'].sum())} plant-{period}s with too few "
               "observations carry the physical range as their interval")  # fmt: skip
    else:  # pooled
        few = (f"{int((estimates['n_obs'] == 0).sum())} plant-{period}s without an overpass "
               "carry the fleet prior")  # fmt: skip
    lines = [
        f"# Per-plant {period}ly estimates against the truth",
        "",
        f"- truth: `{truth}`; {estimates['plant_id'].nunique()} plants, {len(estimates)} "
        f"plant-{period}s, {int(estimates['n_obs'].sum())} observations; nominal interval "
        f"level {level:.0%}; {few}; {unmatched} plant-{period}s have no truth (not scored)",
        f"- {BIASES}",
        *_fuel_lines(checks),
        "",
    ]
    rows = [[str(row.estimate), str(row.quantity), str(row.n), f"{row.rmse:.3f} {row.unit}",
             f"{row.mae:.3f} {row.unit}", f"{row.bias:+.3f} {row.unit}",
             f"{row.median_abs_rel_error:.1%}", f"{row.total_rel_error:+.1%}",
             "—" if pd.isna(row.coverage) else f"{row.coverage:.0%}"]
            for row in scores.itertuples()]  # fmt: skip
    lines += markdown_table(["estimate", "quantity", "n", "RMSE", "MAE", "bias",
                             "median abs. rel. error", "total rel. error", "coverage"], rows)
    return "\n".join(lines) + "\n"


def _fuel_lines(checks: pd.DataFrame | None) -> list[str]:
    """The summary's line on the registry's fuels against the predicted ones."""
    if checks is None or checks.empty:
        return []
    wrong = checks[checks["disagrees"].astype(bool)]
    found = ", ".join(f"{r.plant_id} ({r.fuel_type}, predicted {r.fuel_predicted})"
                      for r in wrong.itertuples())  # fmt: skip
    return [f"- CO₂ uses each plant's known fuel; the model's fuel, pooled over its overpasses, "
            f"disagrees for "
            f"{len(wrong)} of {len(checks)} plants{': ' + found if found else ''} "
            "(fuel_check.csv)"]  # fmt: skip
