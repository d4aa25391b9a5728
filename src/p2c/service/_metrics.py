"""Prometheus metrics of the service, all named ``p2c_*``, on a registry of its own.

Labels are project names, statuses, outcomes and routes: never a record, an address, a
URL or anything secret.
"""

from __future__ import annotations

__all__ = ["Metrics"]

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


@dataclass(frozen=True)
class ScheduleFacts:
    """What /metrics tells of one project's schedule."""

    project: str
    paused: bool
    next_run: float | None  # Unix seconds


class _Live(Collector):
    """Values read when scraped: schedules and the error queue."""

    def __init__(
        self, schedules: Callable[[], Iterable[ScheduleFacts]], queue: Callable[[], int]
    ) -> None:
        self.schedules = schedules
        self.queue = queue

    def collect(self) -> Iterator[Metric]:
        paused = GaugeMetricFamily(
            "p2c_schedule_paused", "1 when the project's schedule is paused", labels=["project"]
        )
        following = GaugeMetricFamily(
            "p2c_schedule_next_run_timestamp_seconds",
            "When the project's next scheduled run is due (Unix time)",
            labels=["project"],
        )
        for fact in self.schedules():
            paused.add_metric([fact.project], 1.0 if fact.paused else 0.0)
            if fact.next_run is not None:
                following.add_metric([fact.project], fact.next_run)
        yield paused
        yield following
        try:
            size = float(self.queue())
        except Exception:  # a scrape must not fail because the database is busy
            size = float("nan")
        yield GaugeMetricFamily(
            "p2c_error_queue_records", "Failed records waiting in the error queue", value=size
        )


class Metrics:
    """The service's counters, gauges and histograms."""

    def __init__(self) -> None:
        # The _created series would double the output for nothing.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        registry = self.registry = CollectorRegistry(auto_describe=True)
        self.runs = Counter(
            "p2c_runs",
            "Runs ended, by project and status",
            ["project", "status"],
            registry=registry,
        )
        self.run_seconds = Histogram(
            "p2c_run_duration_seconds",
            "How long runs took",
            ["project"],
            registry=registry,
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, float("inf")),
        )
        self.records = Counter(
            "p2c_records",
            "Records processed by runs, by project and outcome",
            ["project", "outcome"],
            registry=registry,
        )
        self.running = Gauge("p2c_runs_running", "Runs in progress", registry=registry)
        self.slots = Counter(
            "p2c_schedule_slots",
            "Schedule slots, by project and what became of them",
            ["project", "outcome"],
            registry=registry,
        )
        self.alerts = Counter(
            "p2c_alert_pauses",
            "Schedules paused by the threshold alert",
            ["project"],
            registry=registry,
        )
        self._service_metrics(registry)

    def _service_metrics(self, registry: CollectorRegistry) -> None:
        """Notifications, the API, the service itself."""
        self.notifications = Counter(
            "p2c_notifications",
            "Notifications, by channel and outcome (sent, failed)",
            ["channel", "outcome"],
            registry=registry,
        )
        self.webhook_retries = Counter(
            "p2c_webhook_retries",
            "Webhook deliveries tried again after a failure",
            registry=registry,
        )
        self.requests = Counter(
            "p2c_api_requests",
            "API requests, by method, route and status code",
            ["method", "route", "code"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "p2c_api_request_duration_seconds",
            "API request latency",
            ["route"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, float("inf")),
        )
        started = Gauge(
            "p2c_service_start_time_seconds",
            "When the service started (Unix time)",
            registry=registry,
        )
        started.set(time.time())

    def watch(
        self, schedules: Callable[[], Iterable[ScheduleFacts]], queue: Callable[[], int]
    ) -> None:
        """Add the values read at scrape time."""
        self.registry.register(_Live(schedules, queue))

    def render(self) -> bytes:
        return generate_latest(self.registry)
