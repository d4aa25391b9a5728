"""``p2c serve``: the scheduler, notifications, the REST API and metrics of a workspace.

The ``p2c.yaml`` models (``schedule``, ``notify``, ``notifications``, ``alerts``) load
eagerly, since the workspace's models use them; the rest loads on first use, because it
runs the engine, which reads the workspace.
"""

from __future__ import annotations

import importlib
import typing

from p2c.service._config import (
    AdminCenter,
    Alerts,
    EntraId,
    Notifications,
    Notify,
    NotifyOn,
    PauseAfter,
    Schedule,
    Smtp,
)

if typing.TYPE_CHECKING:
    from p2c.service._access import ROLES, AccessStore, AuditEntry, Role, TokenInfo
    from p2c.service._api import build_api, run_document
    from p2c.service._runner import RetrySelection, Runner, RunRequest
    from p2c.service._schedule import (
        Clock,
        ManualClock,
        Scheduler,
        SystemClock,
        next_slot,
    )
    from p2c.service._server import serve
    from p2c.service._service import Job, Service
    from p2c.service._store import ScheduleState, ServiceStore, SlotEvent

__all__ = [
    "ROLES",
    "AccessStore",
    "AdminCenter",
    "Alerts",
    "AuditEntry",
    "Clock",
    "EntraId",
    "Job",
    "ManualClock",
    "Notifications",
    "Notify",
    "NotifyOn",
    "PauseAfter",
    "RetrySelection",
    "Role",
    "RunRequest",
    "Runner",
    "Schedule",
    "ScheduleState",
    "Scheduler",
    "Service",
    "ServiceStore",
    "SlotEvent",
    "Smtp",
    "SystemClock",
    "TokenInfo",
    "build_api",
    "next_slot",
    "run_document",
    "serve",
]

_LAZY = {
    "ROLES": "_access",
    "AccessStore": "_access",
    "AuditEntry": "_access",
    "Role": "_access",
    "TokenInfo": "_access",
    "build_api": "_api",
    "run_document": "_api",
    "Clock": "_schedule",
    "ManualClock": "_schedule",
    "Scheduler": "_schedule",
    "SystemClock": "_schedule",
    "next_slot": "_schedule",
    "RetrySelection": "_runner",
    "RunRequest": "_runner",
    "Runner": "_runner",
    "serve": "_server",
    "Job": "_service",
    "Service": "_service",
    "ScheduleState": "_store",
    "ServiceStore": "_store",
    "SlotEvent": "_store",
}


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'p2c.service' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"p2c.service.{module}"), name)
    globals()[name] = value
    return value
