"""One scheduler per state database: a lease row that a second ``p2c serve`` respects.

Two services scheduling the same projects would each fire every slot (the project lock
keeps their runs from overlapping, but each slot would run twice). The lease names the
holder (host and pid) and is renewed while it lives; a lease whose process is gone (same
host) or that was not renewed for ``stale_after`` seconds (another host) is taken over.
"""

from __future__ import annotations

__all__ = ["ServiceLease"]

import os
import socket
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from p2c._errors import ProjectBusy
from p2c.service._tables import meta_table

_NAME = "service_lease"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ServiceLease:
    """The scheduler's lease in the state database."""

    def __init__(self, engine: sa.Engine, *, stale_after: float = 60.0) -> None:
        self.engine = engine
        self.stale_after = stale_after
        self.me = f"{socket.gethostname()}|{os.getpid()}"
        self._renewed = 0.0

    def take(self) -> None:
        """Take the lease, or refuse while another live service holds it.

        Raises:
            ProjectBusy: another ``p2c serve`` schedules this state database.
        """
        now = datetime.now(UTC).timestamp()
        with self.engine.begin() as db:
            row = db.execute(
                sa.select(meta_table.c.value).where(meta_table.c.name == _NAME)
            ).scalar()
            if row is not None and not self._free(row, now):
                host, pid, _ = row.split("|")
                raise ProjectBusy(
                    f"Another p2c serve (process {pid} on {host}) schedules this state database.",
                    fix="run one p2c serve per workspace; stop the other first",
                )
            db.execute(meta_table.delete().where(meta_table.c.name == _NAME))
            db.execute(meta_table.insert().values(name=_NAME, value=f"{self.me}|{now}"))
        self._renewed = time.monotonic()

    def _free(self, value: str, now: float) -> bool:
        host, pid, moment = value.split("|")
        if f"{host}|{pid}" == self.me:
            return True
        if now - float(moment) > self.stale_after:
            return True
        return host == socket.gethostname() and not _alive(int(pid))

    def renew(self) -> None:
        """Tell a would-be second service that this one lives (at most every 10 s)."""
        if time.monotonic() - self._renewed < 10.0:
            return
        self._renewed = time.monotonic()
        with self.engine.begin() as db:
            db.execute(
                meta_table.update()
                .where(meta_table.c.name == _NAME, meta_table.c.value.startswith(self.me + "|"))
                .values(value=f"{self.me}|{datetime.now(UTC).timestamp()}")
            )

    def release(self) -> None:
        with self.engine.begin() as db:
            db.execute(
                meta_table.delete().where(
                    meta_table.c.name == _NAME, meta_table.c.value.startswith(self.me + "|")
                )
            )
