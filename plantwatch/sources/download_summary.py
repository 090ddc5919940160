"""`DownloadSummary`: what a ``plantwatch download`` did, and the lines it prints of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DownloadSummary:
    """What a download did; ``complete`` when ``dataset.json`` was written."""

    plants: int = 0
    planned: int = 0
    written: int = 0
    fetched_now: int = 0
    catalog_requests: int = 0
    process_requests: int = 0
    no_acquisition: list[str] = field(default_factory=list)
    no_s1: int = 0
    skipped_no_data: list[str] = field(default_factory=list)
    skipped_cloud: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    with_generation: int = 0
    complete: bool = False
    already_complete: bool = False
    update: dict[str, Any] | None = None  # the period and new plants of an update

    def lines(self) -> list[str]:
        """The summary as printable lines."""
        if self.already_complete:
            return ["the dataset is complete from an earlier run of the same request; "
                    "nothing to do"]  # fmt: skip
        out = []
        if self.update is not None:
            new = self.update["plants"]
            added = (f", the whole period for {len(new)} new plants ({', '.join(new[:5])})"
                     if new else "")  # fmt: skip
            out.append(f"update of a finished dataset: {self.update['start']}.."
                       f"{self.update['end']} for its plants{added}")  # fmt: skip
        out += [
            f"plants: {self.plants}; planned observations: {self.planned}; written: "
            f"{self.written} ({self.fetched_now} fetched now); with generation: "
            f"{self.with_generation}",
            f"requests: {self.catalog_requests} catalog searches, {self.process_requests} "
            "process requests",
        ]
        if self.no_acquisition:
            out.append(
                f"no clear acquisition for {len(self.no_acquisition)} plants: "
                + ", ".join(self.no_acquisition)
            )
        if self.no_s1:
            out.append(f"{self.no_s1} acquisitions left out: no Sentinel-1 within the window")
        if self.skipped_no_data:
            out.append(
                f"{len(self.skipped_no_data)} patches skipped for no-data pixels: "
                + ", ".join(self.skipped_no_data[:10])
            )
        if self.skipped_cloud:
            out.append(
                f"{len(self.skipped_cloud)} patches skipped for cloud, cirrus or shadow over "
                "the patch (--max-patch-cloud): " + ", ".join(self.skipped_cloud[:10])
            )
        for obs_id, error in list(self.failed.items())[:10]:
            out.append(f"failed {obs_id}: {error}")
        if self.failed:
            out.append(f"{len(self.failed)} failed; rerun the same command to retry them")
        elif not self.written and self.planned:
            out.append("no patch was kept, so there is no dataset: widen the dates or relax "
                       "--max-cloud, --max-patch-cloud or the no-data limit")  # fmt: skip
        return out
