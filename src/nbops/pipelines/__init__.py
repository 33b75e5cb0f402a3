"""Continuous training: notebooks run as tracked pipeline runs, on schedules that survive restarts.

    run(notebook, parameters, ...)        execute a notebook now (papermill), recorded in the catalog
    add_schedule / pause / resume / ...   schedules stored in the catalog, every change recorded
    trigger(schedule, reason)             ask the scheduler to run a schedule (monitoring alerts)
    Scheduler                             the daemon behind ``nbops scheduler``
    export_airflow / export_cron / ...    the same schedules for Airflow, cron and systemd
    replay(ref, output, verify)           a clean pipeline notebook from a model's or run's lineage

Imports are lazy: papermill loads only when a notebook runs.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "PipelineRun",
    "PipelineRunFailed",
    "Scheduler",
    "add_schedule",
    "get_schedule",
    "list_schedules",
    "pause_schedule",
    "record_change",
    "remove_schedule",
    "replay",
    "resume_schedule",
    "run",
    "run_schedule_now",
    "trigger",
]

_LAZY = {
    "run": "nbops.pipelines.runner",
    "PipelineRun": "nbops.pipelines.runner",
    "PipelineRunFailed": "nbops.pipelines.runner",
    "Scheduler": "nbops.pipelines.scheduler",
    "add_schedule": "nbops.pipelines.schedules",
    "get_schedule": "nbops.pipelines.schedules",
    "list_schedules": "nbops.pipelines.schedules",
    "pause_schedule": "nbops.pipelines.schedules",
    "resume_schedule": "nbops.pipelines.schedules",
    "remove_schedule": "nbops.pipelines.schedules",
    "run_schedule_now": "nbops.pipelines.schedules",
    "trigger": "nbops.pipelines.schedules",
    "record_change": "nbops.pipelines.events",
    # the module is replay_build: a submodule named `replay` would shadow this function
    "replay": "nbops.pipelines.replay_build",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nbops.pipelines' has no attribute {name!r}")
