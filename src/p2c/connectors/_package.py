"""F&O through the Data management package API: a task's writes as data packages.

With ``write: package`` (or ``auto`` past ``package_threshold`` records) a task's records go
to F&O as units of up to ``package_size`` records. Each unit becomes one data package
(``p2c.dynamics``: ``Manifest.xml``, ``PackageHeader.xml``, one ``CSV-Unicode`` data file),
uploaded to the blob URL ``GetAzureWriteUrl`` gives and imported with ``ImportFromPackage``
into the data project named after the p2c project, as execution ``<ticket>``: the unit's
ticket *is* the execution id, chosen before the import so that the engine can keep it first.
The outcome comes from ``GetExecutionSummaryStatus`` (polled with backoff) and the
execution's errors: rejected records by key from the error keys file and the staging error
file, with F&O's message from ``GetExecutionErrors``. A run killed while an execution runs
asks for that execution next time; an execution F&O never heard of (``Unknown``) was never
imported, so its records are written again.

Before it is packaged, a record is refused here only for what no package can carry: an
empty key field, or a field the entity does not have (F&O's metadata service says which it
has). With ``auto``, a unit stays in memory until the task passes the threshold and goes
through OData if it never does.
"""

from __future__ import annotations

__all__ = ["PackageDestination", "PackageWriter"]

import io
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Sequence
from typing import IO, Any

from p2c.connectors._base import BulkWriter, Destination, Key, Outcome, Record, Settlement
from p2c.connectors._config import FinOpsConnection
from p2c.connectors._dmf import DataManagement, ExecutionError
from p2c.connectors._finops import FinOpsDestination
from p2c.connectors._http import ApiSession, Call
from p2c.connectors._odata import field_of, with_query
from p2c.dynamics import (
    FINOPS,
    DataFileWriter,
    PackageEntity,
    WriteStatus,
    package_header,
    package_manifest,
)

_COMPANY = "dataAreaId"
_DIRECT = "p2c"  # the data project of writes that come without a project (``upsert``)


def _normalize(names: Sequence[str], key: Sequence[Any]) -> Key:
    """A key as F&O reports it: ``dataAreaId`` in lower case."""
    return tuple(
        v.lower() if n == _COMPANY and isinstance(v, str) else v
        for n, v in zip(names, key, strict=True)
    )


class _Unit:
    """The records of one open unit: in memory (``auto`` below the threshold) or in a data
    file on disk."""

    def __init__(self, ticket: str) -> None:
        self.ticket = ticket
        self.columns: tuple[str, ...] | None = None
        self.records: list[Record] = []
        self.new: list[bool] = []
        self.count = 0
        self.company: str | None = None
        self._spool: IO[bytes] | None = None
        self._file: DataFileWriter | None = None

    @property
    def packaged(self) -> bool:
        return self._file is not None

    def spool(self) -> None:
        """From now on the records go to a data file (those held so far first)."""
        assert self.columns is not None
        self._spool = tempfile.TemporaryFile(prefix="p2c-package-")  # noqa: SIM115 (kept open)
        self._file = DataFileWriter(self._spool, [c.upper() for c in self.columns])
        for record in self.records:
            self.write(record)
        self.records, self.new = [], []

    def write(self, record: Record) -> None:
        assert self._file is not None and self.columns is not None
        self._file.write([record.get(c) for c in self.columns])

    def package(self, group: str, entity: str) -> bytes:
        """The data package of the unit's data file, as zip bytes."""
        assert self._spool is not None and self._file is not None and self.columns is not None
        self._file.close()
        self._spool.seek(0)
        described = PackageEntity(entity, f"{entity}.csv", tuple(c.upper() for c in self.columns))
        data = io.BytesIO()
        with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            archive.writestr("PackageHeader.xml", package_header(group))
            archive.writestr("Manifest.xml", package_manifest(group, group, [described]))
            with archive.open(described.file, "w") as target:
                shutil.copyfileobj(self._spool, target, 1 << 20)
        self.close()
        return data.getvalue()

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None


class PackageWriter(BulkWriter):
    """One task's writes to one F&O entity, as data packages (see the module).

    Args:
        destination: The destination it writes through.
        entity: The entity set.
        key: Its key fields.
        name: The data project (the p2c project's name).
        packaging: Package from the first record, whatever ``write`` says.
    """

    def __init__(
        self,
        destination: PackageDestination,
        entity: str,
        key: Sequence[str],
        name: str,
        *,
        packaging: bool = False,
    ) -> None:
        self.destination = destination
        self.settings = destination.connection
        self.entity = entity
        self.names = tuple(key)
        self.group = name
        model = FINOPS.find(entity)
        self.dmf_entity = (model.label or model.name) if model is not None else entity
        self.packaging = packaging or self.settings.write == "package"
        self.taken = 0
        self.unit: _Unit | None = None
        self._done: dict[str, Settlement] = {}
        self._columns: dict[str, tuple[str, ...]] = {}

    # the unit -----------------------------------------------------------------------------------

    def open(self) -> str:
        if self.unit is not None:
            self.unit.close()
        self.unit = _Unit(f"p2c-{uuid.uuid4()}")
        return self.unit.ticket

    def add(self, records: list[Record], new: Sequence[bool]) -> list[Key | Outcome]:
        if self.unit is None:
            self.open()
        unit = self.unit
        assert unit is not None
        known = self.destination.properties(self.entity)
        results: list[Key | Outcome | None] = []
        other: list[int] = []
        for record, fresh in zip(records, new, strict=True):
            refused = self._refusal(record, known)
            if refused is not None:
                results.append(refused)
                continue
            columns = tuple(record)
            if unit.columns is None:
                unit.columns = columns
                unit.company = record.get(_COMPANY)
            if columns != unit.columns:  # another set of fields: not this data file's
                other.append(len(results))
                results.append(None)
                continue
            self._take(unit, record, fresh)
            results.append(_normalize(self.names, [record.get(n) for n in self.names]))
        if other:
            written = self.destination.odata.upsert(
                self.entity,
                self.names,
                [records[i] for i in other],
                new=[new[i] for i in other],
            )
            for i, outcome in zip(other, written, strict=True):
                results[i] = outcome
        return [r for r in results if r is not None]

    def _refusal(self, record: Record, known: set[str] | None) -> Outcome | None:
        raw = tuple(record.get(n) for n in self.names)
        if known is not None:
            for name in record:
                if name not in known:
                    return Outcome(
                        raw,
                        WriteStatus.FAILED,
                        name,
                        f"The property '{name}' does not exist on entity '{self.entity}' "
                        "(F&O's metadata service), so a data package cannot carry it.",
                    )
        for name, value in zip(self.names, raw, strict=True):
            if value in (None, ""):
                return Outcome(
                    raw,
                    WriteStatus.FAILED,
                    name,
                    f"All fields in the entity key must be provided: {name}.",
                )
        return None

    def _take(self, unit: _Unit, record: Record, fresh: bool) -> None:
        unit.count += 1
        self.taken += 1
        if not self.packaging and self.taken > self.settings.package_threshold:
            self.packaging = True
        if self.packaging and not unit.packaged:
            unit.spool()
        if unit.packaged:
            unit.write(record)
        else:
            unit.records.append(record)
            unit.new.append(fresh)

    @property
    def full(self) -> bool:
        unit = self.unit
        return unit is not None and unit.packaged and unit.count >= self.settings.package_size

    def submit(self) -> None:
        unit, self.unit = self.unit, None
        if unit is None:
            return
        if not unit.packaged:  # auto, below the threshold: OData
            written = self.destination.odata.upsert(
                self.entity, self.names, unit.records, new=unit.new
            )
            self._done[unit.ticket] = Settlement({o.key: o for o in written})
            return
        assert unit.columns is not None
        data = unit.package(self.group, self.dmf_entity)
        dmf = self.destination.dmf
        url = dmf.write_url(f"{unit.ticket}.zip")
        dmf.upload(url, data)
        dmf.import_package(url, self.group, unit.ticket, str(unit.company or ""))
        self._columns[unit.ticket] = unit.columns

    # the outcome --------------------------------------------------------------------------------

    def settle(self, ticket: str, waiting: Callable[[], None]) -> Settlement | None:
        done = self._done.pop(ticket, None)
        if done is not None:
            return done
        dmf = self.destination.dmf
        status = dmf.wait(ticket, waiting)
        if status == "Unknown":
            return None
        if status == "Succeeded":  # every record was written
            self._columns.pop(ticket, None)
            return Settlement({})
        errors = dmf.errors(ticket)
        messages: dict[Key, ExecutionError] = {}
        general: list[str] = []
        for error in errors:
            if error.key:
                messages[self._key_of(error.key)] = error
            else:
                general.append(error.message)
        failed = set(messages)
        for row in dmf.target_error_keys(ticket, self.dmf_entity, waiting):
            failed.add(self._key_of(row))
        for row in dmf.staging_errors(ticket, self.dmf_entity):
            failed.add(self._key_of(row))
        if status == "Canceled" or (status == "Failed" and not failed):
            why = "; ".join(general) or f"the execution ended {status}"
            return Settlement(
                {},
                Outcome(
                    (),
                    WriteStatus.FAILED,
                    None,
                    f"not written: data management execution {ticket}: {why}; run again to retry",
                    True,
                ),
            )
        columns = self._columns.pop(ticket, None)
        return Settlement({key: self._rejection(ticket, key, messages, columns) for key in failed})

    def _rejection(
        self,
        ticket: str,
        key: Key,
        messages: dict[Key, ExecutionError],
        columns: tuple[str, ...] | None,
    ) -> Outcome:
        error = messages.get(key)
        if error is None:
            message = f"Rejected by data management execution {ticket} (F&O gave no reason)."
            return Outcome(key, WriteStatus.FAILED, None, message)
        # The field as the OData path finds it: named in the message, among the record's
        # fields (all records of a unit carry the same fields).
        names = columns if columns is not None else ((error.field,) if error.field else ())
        field = field_of(error.message, dict.fromkeys(names))
        if field is None and columns is None:
            field = error.field
        return Outcome(key, WriteStatus.FAILED, field, error.message)

    def _key_of(self, values: dict[str, str]) -> Key:
        upper = {k.upper(): v for k, v in values.items()}
        return _normalize(self.names, [upper.get(n.upper(), "") for n in self.names])


class PackageDestination(Destination):
    """F&O written through data packages (``write: package`` or ``auto``).

    Pages the engine hands over in units (``bulk``) become packages; a batch given to
    ``upsert`` (no engine: tests, tools) is compared with what is stored first, like the
    OData destination does, and its new and changed records imported as one package, so
    that every record gets created, updated or unchanged. ``preview`` is OData's.

    Args:
        session: The OData session of the environment.
        connection: The connection settings.
        odata: The OData destination on the same session.
    """

    def __init__(
        self, session: ApiSession, connection: FinOpsConnection, odata: FinOpsDestination
    ) -> None:
        self.session = session
        self.connection = connection
        self.odata = odata
        self.dmf = DataManagement(session, connection.package_poll, connection.package_timeout)
        self._properties: dict[str, set[str] | None] = {}

    def bulk(self, entity: str, key: Sequence[str], name: str) -> PackageWriter:
        return PackageWriter(self, entity, key, name)

    def preview(self, entity: str, key: Sequence[str], records: list[Record]) -> list[Outcome]:
        return self.odata.preview(entity, key, records)

    def upsert(
        self,
        entity: str,
        key: Sequence[str],
        records: list[Record],
        *,
        new: Sequence[bool] | None = None,
    ) -> list[Outcome]:
        settings = self.connection
        if settings.write == "auto" and len(records) <= settings.package_threshold:
            return self.odata.upsert(entity, key, records, new=new)
        planned = self.odata.preview(entity, key, records)
        chosen = [
            i
            for i, p in enumerate(planned)
            if p.status in (WriteStatus.CREATED, WriteStatus.UPDATED)
        ]
        if not chosen:
            return planned
        writer = PackageWriter(self, entity, key, _DIRECT, packaging=True)
        ticket = writer.open()
        taken = writer.add([records[i] for i in chosen], [False] * len(chosen))
        writer.submit()
        settlement = writer.settle(ticket, lambda: None)
        results = [p._replace(changes=None) for p in planned]
        seen: set[Key] = set()
        for i, result in zip(chosen, taken, strict=True):
            if isinstance(result, Outcome):
                results[i] = result
                continue
            if settlement is None or settlement.failed is not None:
                failed = settlement.failed if settlement is not None else None
                results[i] = (failed or _never_imported(ticket))._replace(key=result)
            elif result in settlement.outcomes:
                results[i] = settlement.outcomes[result]
            else:  # a key twice in the package: the later record updates the earlier one
                status = WriteStatus.UPDATED if result in seen else planned[i].status
                results[i] = Outcome(result, status)
            seen.add(result)
        return results

    def properties(self, entity: str) -> set[str] | None:
        """The entity's property names from F&O's metadata service; None when it does not
        say (then nothing is refused here)."""
        if entity not in self._properties:
            root = self.session.api_root.removesuffix("/").removesuffix("data") + "Metadata/"
            url = with_query(
                root + "PublicEntities",
                {"$filter": f"EntitySetName eq '{entity}'", "$select": "Properties"},
            )
            answer = self.session.send(Call("GET", url))
            found: set[str] | None = None
            if answer.ok and isinstance(answer.body, dict):
                values = answer.body.get("value") or []
                if values:
                    found = {str(p.get("Name")) for p in values[0].get("Properties") or []}
            self._properties[entity] = found
        return self._properties[entity]

    def close(self) -> None:
        self.odata.close()


def _never_imported(ticket: str) -> Outcome:
    return Outcome(
        (),
        WriteStatus.FAILED,
        None,
        f"not written: F&O does not know data management execution {ticket}; run again to retry",
        True,
    )
