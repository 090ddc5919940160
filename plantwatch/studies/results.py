"""Study results: the per-run tables (``<name>.csv``, ``<name>_overpasses.csv``), the
study's facts (``<name>_study.json``: command, versions, every `compare` call's time) and,
from these alone, the record ``<name>.md`` with its figures — so a record can be written
again from committed tables without the runs."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from plantwatch.studies.figures import (
    dot_figure,
    overpass_figures,
    panels_figure,
    reliability_figures,
)
from plantwatch.studies.record import (
    prepared,
    record_markdown,
    summary_table,
    write_record,
)
from plantwatch.studies.runner import run_dir
from plantwatch.studies.spec import Study, encoder_names
from plantwatch.studies.worker import BASELINES, CURVE, ESTIMATES, METRICS


def study_files(study: Study, out: Path) -> dict[str, Path]:
    """The files of a study's results in ``out``."""
    name = study.name
    return {"runs": out / f"{name}.csv", "curves": out / f"{name}_overpasses.csv",
            "facts": out / f"{name}_study.json", "record": out / f"{name}.md"}  # fmt: skip


def collect(study: Study, root: Path) -> pd.DataFrame:
    """One row per finished run: variant, label_fraction, seed, split_seed, wall_s and test
    metrics; then one row per baseline, label fraction and split seed (baselines depend on
    the split and the training labels only, so every run of a split and fraction has the
    same ones). A run's other plant-period estimates (``estimates.json``: the model's simple
    mean) are rows ``<variant>: <estimate>`` with the run's seed."""
    rows, baselines = [], {}
    for run in study.runs():
        folder = run_dir(root, run)
        if not (folder / METRICS).is_file():
            continue
        key = {"label_fraction": run.label_fraction, "seed": run.seed,
               "split_seed": run.split_seed}  # fmt: skip
        rows.append({"variant": run.variant, **key, **json.loads((folder / METRICS).read_text())})
        if (folder / ESTIMATES).is_file():
            for name, values in json.loads((folder / ESTIMATES).read_text()).items():
                rows.append({"variant": f"{run.variant}: {name}", **key, **values})
        if (folder / BASELINES).is_file():
            for name, values in json.loads((folder / BASELINES).read_text()).items():
                record = {**key, "seed": None, **values}
                baselines.setdefault((name, run.label_fraction, run.split_seed), record)
    rows += [{"variant": name, **values} for (name, _, _), values in baselines.items()]
    return pd.DataFrame(rows)


def overpass_curves(study: Study, root: Path) -> pd.DataFrame:
    """The finished runs' ``overpass_curve.csv`` in one table (``variant`` and ``seed``,
    ``split_seed`` added); empty without any."""
    frames = [
        pd.read_csv(run_dir(root, run) / CURVE).assign(
            variant=run.variant, seed=run.seed, split_seed=run.split_seed
        )
        for run in study.runs()
        if (run_dir(root, run) / METRICS).is_file() and (run_dir(root, run) / CURVE).is_file()
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def metric_figures(study: Study, runs: pd.DataFrame, out: Path) -> list[Path]:
    """One PNG per headline metric (`figures.dot_figure` with one label fraction,
    `figures.panels_figure` with several)."""
    runs, names = prepared(study, runs)
    summary = summary_table(runs, study.headline)
    summary.attrs["labels"] = study.labels_name
    order = list(names)
    baselines = [v for v in order if names[v].endswith("(baseline)")]
    paths = []
    for metric in study.headline:
        if metric not in runs or runs[metric].isna().all():
            continue
        if runs["label_fraction"].nunique() == 1:
            levels = runs[runs["variant"].isin(baselines)].groupby("variant")[metric].mean()
            shown = [v for v in order if v not in baselines]
            figure = dot_figure(runs, levels.dropna().to_dict(), metric, shown, study.reference)
        else:
            figure = panels_figure(summary, metric, order, study.reference, baselines)
        paths.append(out / f"{study.name}_{metric}.png")
        figure.savefig(paths[-1], dpi=110)
    return paths


def zoo_cards(names: list[str]) -> list[dict[str, Any]]:
    """The zoo's rows (`list_zoo`) of the entries ``names``, as the study's runs found them:
    method, data, epochs and the k-NN probe of each pretrained encoder (none for a file)."""
    from plantwatch.models.zoo import list_zoo

    table = list_zoo()
    if table.empty:
        return []
    table = table[table["name"].isin(names)].astype(object)
    return table.where(table.notna(), None).to_dict("records")


def write_study_record(study: Study, out: Path) -> Path:
    """Write ``<out>/<name>.md`` and its figures from the study's tables in ``out`` (the
    hand-written part of an existing record stays; figures the last record drew and this
    one does not are removed)."""
    files = study_files(study, out)
    if not files["runs"].is_file():
        raise FileNotFoundError(f"{files['runs']}: no per-run table of study {study.name}")
    runs = pd.read_csv(files["runs"])
    facts = json.loads(files["facts"].read_text()) if files["facts"].is_file() else {}
    curves = pd.read_csv(files["curves"]) if files["curves"].is_file() else pd.DataFrame()
    trained = runs[runs["variant"].isin(list(study.variants))]
    figures = metric_figures(study, runs, out)
    figures += reliability_figures(trained, out, study.name)
    figures += overpass_figures(curves, out, study.name)
    for stale in set(facts.get("figures", [])) - {p.name for p in figures}:
        (out / stale).unlink(missing_ok=True)
    facts["figures"] = [p.name for p in figures]
    files["facts"].write_text(json.dumps(facts, indent=1) + "\n")
    write_record(files["record"], record_markdown(study, runs, facts, figures))
    return files["record"]


def write_results(study: Study, root: Path, out: Path, call: dict[str, Any]) -> Path:
    """Collect the finished runs under ``root`` into the study's tables in ``out``, add
    ``call`` (``command``, ``versions``, ``cpu_cores``, ``elapsed_min``, ``ran``,
    ``jobs``) and the zoo cards of its pretrained encoders to its facts and write the record
    (`write_study_record`)."""
    out.mkdir(parents=True, exist_ok=True)
    frame = collect(study, root)
    if frame.empty:
        raise ValueError(f"study {study.name}: no finished runs under {root}")
    files = study_files(study, out)
    frame.to_csv(files["runs"], index=False)
    curves = overpass_curves(study, root)
    if not curves.empty:
        curves.to_csv(files["curves"], index=False)
    facts = json.loads(files["facts"].read_text()) if files["facts"].is_file() else {}
    facts.update({k: call[k] for k in ("command", "versions", "cpu_cores") if k in call})
    encoders = encoder_names(study.variants)
    if encoders:
        facts["encoders"] = zoo_cards(encoders)
    if call.get("ran"):
        finished = f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}"
        facts.setdefault("calls", []).append({"finished": finished, **{
            k: call[k] for k in ("elapsed_min", "ran", "jobs")}})  # fmt: skip
    files["facts"].write_text(json.dumps(facts, indent=1) + "\n")
    return write_study_record(study, out)
