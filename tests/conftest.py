"""Shared fixtures. No test reaches the network: hubs are forced offline."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["NO_ALBUMENTATIONS_UPDATE"] = "1"

from pathlib import Path

import pytest

from tests.data.bigearthnet import extract_examples
from tests.data.fakes import make_dataset


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic dataset shared read-only by the tests (12 plants × 4 scenes, 48 px)."""
    return make_dataset(tmp_path_factory.mktemp("tiny") / "ds")


@pytest.fixture(scope="session")
def bigearthnet(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The six real BigEarthNet example patches: {"S2": folder, "S1": folder}."""
    return extract_examples(tmp_path_factory.mktemp("bigearthnet"))
