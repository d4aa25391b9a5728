"""Finance and Operations through OData (``<url>/data/<Entity>``); also the CDS hub, which the
emulator serves in the same shape.

Reads are cross-company (``?cross-company=true``), so records of every legal entity come
back, each with its ``dataAreaId``; pages are server-driven (``Prefer: odata.maxpagesize``, up
to 10,000). Upsert reads the batch's keys first, then POSTs new records and PATCHes changed
ones by the full key (``CustomersV2(dataAreaId='usmf',CustomerAccount='…')``).
"""

from __future__ import annotations

__all__ = ["FINOPS", "FinOpsDestination", "FinOpsSource", "FinOpsType"]

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from p2c._errors import ConfigError, NotFoundError
from p2c.connectors._base import Destination, ReadRequest, Record, Source
from p2c.connectors._config import FinOpsConnection
from p2c.connectors._http import ApiSession, Call
from p2c.connectors._kind import System
from p2c.connectors._odata import HttpDestination, Key, key_segment, read_pages, with_query
from p2c.connectors._remote import HttpConnectionType
from p2c.dynamics import CDS_ENTITIES, FINOPS_ENTITIES
from p2c.odata import to_odata

# Keys of the entities p2c knows; others are read from $metadata.
_KNOWN_KEYS = {e.entity_set.lower(): e.key for e in (*FINOPS_ENTITIES, *CDS_ENTITIES)}
_MODIFIED = {e.entity_set.lower(): e.modified_field for e in CDS_ENTITIES if e.modified_field}


class _Metadata:
    """Entity keys from ``$metadata`` (CSDL), fetched once and only when needed."""

    def __init__(self, session: ApiSession) -> None:
        self.session = session
        self._keys: dict[str, tuple[str, ...]] | None = None

    def key(self, entity_set: str) -> tuple[str, ...]:
        known = _KNOWN_KEYS.get(entity_set.lower())
        if known:
            return known
        if self._keys is None:
            answer = self.session.send(Call("GET", "$metadata", headers={"Accept": "*/*"}))
            if not answer.ok:
                raise self.session.failure(answer, "GET $metadata")
            self._keys = _keys_from_csdl(answer.text)
        key = self._keys.get(entity_set.lower())
        if key is None:
            raise NotFoundError(
                f"{self.session.label}: the service has no entity set {entity_set!r}.",
                fix="check the entity name (OData entity set names are case-sensitive)",
            )
        return key


def _keys_from_csdl(text: str) -> dict[str, tuple[str, ...]]:
    root = ET.fromstring(text)
    types: dict[str, tuple[str, ...]] = {}
    for element in root.iter():
        if element.tag.endswith("}EntityType"):
            refs = [
                r.get("Name", "")
                for key in element
                if key.tag.endswith("}Key")
                for r in key
                if r.tag.endswith("}PropertyRef")
            ]
            types[element.get("Name", "")] = tuple(refs)
    keys: dict[str, tuple[str, ...]] = {}
    for element in root.iter():
        if element.tag.endswith("}EntitySet"):
            type_name = element.get("EntityType", "").rpartition(".")[2]
            keys[element.get("Name", "").lower()] = types.get(type_name, ())
    return keys


def _plain(raw: dict[str, Any], columns: Sequence[str]) -> Record:
    return {name: raw.get(name) for name in columns}


class FinOpsSource(Source):
    """Reads F&O (or the emulator's CDS hub) over OData.

    Args:
        session: The OData session.
        cross_company: Read every legal entity (F&O); the CDS hub has none.
    """

    def __init__(self, session: ApiSession, *, cross_company: bool = True) -> None:
        self.session = session
        self.cross_company = cross_company
        self.metadata = _Metadata(session)

    def record_key(self, entity: str) -> tuple[str, ...]:
        return self.metadata.key(entity)

    def watermark(self, entity: str) -> str | None:
        # The hub stamps every write (to the microsecond); F&O entities are read whole.
        return _MODIFIED.get(entity.lower())

    def read(self, request: ReadRequest) -> Iterator[list[Record]]:
        columns, params = self._query(request)
        if request.order_by:
            params["$orderby"] = ",".join(request.order_by)
        page_size = min(request.page_size, self.session.connection.page_size, 10_000)
        headers = {"Prefer": f"odata.maxpagesize={page_size}"}
        yield from read_pages(
            self.session, request.entity, params, headers, lambda raw: _plain(raw, columns)
        )

    def last(self, request: ReadRequest) -> Record | None:
        """One request: the order reversed, ``$top=1``."""
        columns, params = self._query(request)
        order = request.order_by or self.record_key(request.entity)
        params |= {"$orderby": ",".join(f"{c} desc" for c in order), "$top": "1"}
        found = self.session.get_json(request.entity, params=params).get("value") or []
        return _plain(found[0], columns) if found else None

    def _query(self, request: ReadRequest) -> tuple[list[str], dict[str, str]]:
        """The columns read and the query options every read of ``request`` has."""
        if request.lookups:
            raise ConfigError(
                f"{request.entity}: lookup paths ({', '.join(request.lookups)}) are a Sales "
                "feature; F&O entities are flat.",
                fix="map the entity's own fields",
            )
        columns = list(dict.fromkeys(request.columns))
        params = {"$select": ",".join(columns)}
        if self.cross_company:
            params["cross-company"] = "true"
        if request.filter is not None:
            params["$filter"] = to_odata(request.filter)
        return columns, params

    def close(self) -> None:
        self.session.close()


class FinOpsDestination(HttpDestination):
    """Upserts into F&O (or the CDS hub): POST to create, PATCH by the full key to update."""

    def __init__(self, session: ApiSession, *, cross_company: bool = True) -> None:
        super().__init__(session)
        self.cross_company = cross_company

    def normalize_key(self, names: Sequence[str], key: Key) -> Key:
        # F&O reads dataAreaId case-insensitively and answers in lower case.
        return tuple(
            v.lower() if n == "dataAreaId" and isinstance(v, str) else v
            for n, v in zip(names, key, strict=True)
        )

    def read_params(self) -> dict[str, str]:
        return {"cross-company": "true"} if self.cross_company else {}

    def _url(self, entity: str, names: Sequence[str], key: Key) -> str:
        url = entity + key_segment(names, key)
        return with_query(url, self.read_params())

    def create_call(self, entity: str, names: Sequence[str], key: Key, record: Record) -> Call:
        body = dict(record)
        body.update(zip(names, key, strict=True))
        return Call("POST", entity, body)

    def update_call(self, entity: str, names: Sequence[str], key: Key, changes: Record) -> Call:
        return Call("PATCH", self._url(entity, names, key), changes)


class FinOpsType(HttpConnectionType[FinOpsConnection]):
    """``type: finops``: Finance and Operations through OData (also the CDS hub, which the
    emulator serves in the same shape)."""

    name = "finops"
    config = FinOpsConnection
    systems = ("finops", "cds")
    writes = ("finops", "cds")
    probes = {"finops": "LegalEntities?$top=1", "cds": "Organization?$top=1"}

    def session(self, connection: FinOpsConnection, root: Path, label: str) -> ApiSession:
        return ApiSession(connection, root, label, connection.environment_url + "/data/")

    def source(
        self, connection: FinOpsConnection, system: System, root: Path, label: str
    ) -> Source:
        session = self.session(connection, root, label)
        return FinOpsSource(session, cross_company=system == "finops")

    def destination(
        self, connection: FinOpsConnection, system: System, root: Path, label: str
    ) -> Destination:
        session = self.session(connection, root, label)
        odata = FinOpsDestination(session, cross_company=system == "finops")
        if system != "finops" or connection.write == "odata":
            return odata
        # The package API imports into F&O; the CDS hub is written over OData only.
        from p2c.connectors._package import PackageDestination  # it builds on this module

        return PackageDestination(session, connection, odata)


FINOPS = FinOpsType()
