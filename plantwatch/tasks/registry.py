"""Moved to `plantwatch.task_registry` (the task registry is a table every layer reads);
this module re-exports it for one release."""

import warnings

from plantwatch.task_registry import *  # noqa: F403

warnings.warn(
    "plantwatch.tasks.registry moved to plantwatch.task_registry; import it from there",
    DeprecationWarning,
    stacklevel=2,
)
