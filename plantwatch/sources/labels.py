"""`ObservationLabels`: the generation, CO₂ and weather of a plant at an acquisition time,
from the label sources a download is given (see ``sources.generation``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from plantwatch.data.loading.sample import WEATHER_COLUMNS
from plantwatch.sources.generation import (
    GenerationSeries,
    co2_t_per_h,
    emission_intensity,
    read_weather,
    weather_at,
)
from plantwatch.sources.registry import UNIT_SEPARATOR, PlantRegistry


class ObservationLabels:
    """Label sources of a download.

    Args:
        generation: per-unit generation from 16.1.A files, or None.
        intensity: reported t CO₂/MWh by (plant_id, year), or None (emission factors).
        weather: a weather table (``read_weather``), or None.
        tolerance_min: largest gap between an acquisition and the generation interval or
            weather row it takes, minutes.
        sources: the files read, recorded in ``dataset.json``.
    """

    def __init__(
        self,
        generation: GenerationSeries | None = None,
        intensity: Mapping[tuple[str, int], float] | None = None,
        weather: pd.DataFrame | None = None,
        tolerance_min: float = 30.0,
        sources: Mapping[str, Any] | None = None,
    ) -> None:
        self.generation = generation
        self.intensity = dict(intensity or {})
        self.weather = weather
        self.tolerance = pd.Timedelta(minutes=tolerance_min)
        self.sources = dict(sources or {})

    @classmethod
    def read(
        cls,
        registry: PlantRegistry,
        generation_files: Sequence[str | Path] = (),
        annual_emissions: pd.DataFrame | None = None,
        weather_file: str | Path | None = None,
        tolerance_min: float = 30.0,
    ) -> ObservationLabels:
        """Read the label sources named on the command line.

        Args:
            registry: the plants (their unit codes map units to plants).
            generation_files: ENTSO-E 16.1.A files of either layout.
            annual_emissions: reported annual CO₂ and generation per plant or unit
                (``generation.emission_intensity``), e.g. from JRC-PPDB-OPEN.
            weather_file: a weather CSV (``generation.read_weather``).
            tolerance_min: largest gap to a generation interval or weather row, minutes.
        """
        units = registry.units()
        unit_to_plant = dict(zip(units["unit_code"], units["plant_id"], strict=True))
        return cls(
            GenerationSeries.read(generation_files) if generation_files else None,
            emission_intensity(annual_emissions, unit_to_plant)
            if annual_emissions is not None
            else None,
            read_weather(weather_file) if weather_file else None,
            tolerance_min,
            {
                "generation_files": [Path(p).name for p in generation_files],
                "weather_file": Path(weather_file).name if weather_file else None,
            },
        )

    def at(self, plant_id: str, plant: pd.Series, when: pd.Timestamp) -> dict[str, Any]:
        """``generation_mw``, ``co2_t_per_h``, ``co2_source`` and the weather columns of a
        plant (a registry row) at ``when``; None where unknown."""
        row: dict[str, Any] = {"generation_mw": None, "co2_t_per_h": None, "co2_source": ""}
        if self.generation is not None:
            codes = [c for c in str(plant["unit_codes"]).split(UNIT_SEPARATOR) if c]
            power = self.generation.plant_at(codes, when, self.tolerance)
            if pd.notna(power):
                co2, source = co2_t_per_h(power, plant["fuel_type"], plant_id, when, self.intensity)
                row.update(generation_mw=round(power, 3), co2_t_per_h=round(co2, 3),
                           co2_source=source)  # fmt: skip
        if self.weather is not None:
            found = weather_at(self.weather, plant_id, when, self.tolerance)
            row.update(found or dict.fromkeys(WEATHER_COLUMNS))
        return row

    def describe(self) -> dict[str, Any]:
        """How the labels were made, for ``dataset.json``."""
        return {
            **self.sources,
            "generation": "ENTSO-E actual generation per generation unit (16.1.A), summed over "
            "the plant's reported units at the interval containing the acquisition",
            "tolerance_min": self.tolerance.total_seconds() / 60,
            "co2": "generation × reported plant-year intensity (co2_source reported_annual) "
            "where given, else × the fuel's emission factor (co2_source emission_factor)",
        }
