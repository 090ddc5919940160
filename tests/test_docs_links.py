"""Relative links of the README and the docs point at files that exist."""

import re
from pathlib import Path

REPO = Path(__file__).parents[1]


def test_every_relative_link_resolves():
    pages = [REPO / "README.md", *(REPO / "docs").glob("*.md"), *REPO.glob("*/README.md")]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)", page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)}: {target}")
    assert not broken, broken
