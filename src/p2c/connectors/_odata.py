"""What the Dataverse and F&O connectors share: paging, key segments, and upsert by key.

Upsert works the same on both sides: read the records with the batch's keys (one filter
over many keys, not one request per record), compare, then create what is new, update what
changed and leave the rest alone, so a repeated run writes nothing and reports ``unchanged``.
"""

from __future__ import annotations

__all__ = ["HttpDestination", "key_segment", "keys_filter", "literal", "read_pages", "with_query"]

import abc
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, final

from p2c.connectors._base import Destination, Record
from p2c.connectors._http import Answer, ApiSession, Call, error_message
from p2c.connectors._policy import Action, classify
from p2c.dynamics import Outcome, WriteStatus
from p2c.odata import Compare, Filter, Logical, to_odata

Key = tuple[Any, ...]

# Longest $filter text per existence read: GET URLs stay well below what servers accept
# (IIS and uvicorn refuse request lines past ~16 kB; inside $batch the limit is 32,768).
_FILTER_LENGTH = {True: 20_000, False: 6_000}


def literal(value: Any) -> str:
    """An OData literal: strings quoted with quotes doubled, numbers and booleans bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def key_segment(names: Sequence[str], values: Sequence[Any], *, guid: bool = False) -> str:
    """``(<guid>)``, ``(msdynce_contactnumber='CON-1')`` or ``(dataAreaId='usmf',Cust…='…')``,
    percent-encoded for the path."""
    if guid:
        inner = str(values[0])
    else:
        inner = ",".join(f"{n}={literal(v)}" for n, v in zip(names, values, strict=True))
    return "(" + urllib.parse.quote(inner, safe="'=,-_.~") + ")"


def with_query(url: str, params: Mapping[str, str]) -> str:
    """``url?a=b&c=d`` with spaces as ``%20`` (OData servers differ on ``+``)."""
    query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="$,'()/=")
    return f"{url}?{query}" if query else url


def _balanced(nodes: list[Filter], op: str) -> Filter:
    """``a or b or c …`` as a balanced tree: its text nests log2(n) deep, not n deep."""
    if len(nodes) == 1:
        return nodes[0]
    middle = len(nodes) // 2
    return Logical(op, _balanced(nodes[:middle], op), _balanced(nodes[middle:], op))


def keys_filter(names: Sequence[str], keys: Sequence[Key]) -> Filter:
    """A filter matching exactly the records with these keys."""
    terms: list[Filter] = [
        _balanced([Compare("eq", n, v) for n, v in zip(names, key, strict=True)], "and")
        for key in keys
    ]
    return _balanced(terms, "or")


def keys_filters(
    names: Sequence[str],
    keys: Sequence[Key],
    limit: int,
    render: Callable[[Filter], str] = to_odata,
) -> list[str]:
    """``$filter`` texts covering ``keys``, each shorter than ``limit``; with a multi-part key
    the first part (the company) is factored out when the keys share it."""
    filters: list[str] = []
    groups: dict[Any, list[Key]] = {}
    if len(names) > 1:
        for key in keys:
            groups.setdefault(key[0], []).append(key)
    else:
        groups[None] = list(keys)
    for head, group in groups.items():
        rest = names[1:] if head is not None else names
        prefix = render(Compare("eq", names[0], head)) + " and " if head is not None else ""
        chunk: list[Key] = []
        size = 0
        for key in group:
            part = key[1:] if head is not None else key
            term = len(" or ".join(f"{n} eq {literal(v)}" for n, v in zip(rest, part, strict=True)))
            if chunk and size + term + 8 > limit:
                filters.append(prefix + "(" + render(keys_filter(rest, chunk)) + ")")
                chunk, size = [], 0
            chunk.append(part)
            size += term + 8
        if chunk:
            filters.append(prefix + "(" + render(keys_filter(rest, chunk)) + ")")
    return filters


def read_pages(
    session: ApiSession,
    url: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    convert: Callable[[dict[str, Any]], Record],
) -> Iterator[list[Record]]:
    """Pages of a collection, following ``@odata.nextLink`` until there is none. The next
    page is fetched while the caller works on this one (at most two pages in memory), so
    reading is off the critical path of a throttled write."""

    def fetch(link: str) -> tuple[list[Record], str | None]:
        body = session.get_json(link, headers=headers)
        return [convert(v) for v in body.get("value") or []], body.get("@odata.nextLink")

    with ThreadPoolExecutor(1, thread_name_prefix="p2c-read") as prefetch:
        pending: Future[tuple[list[Record], str | None]] | None = prefetch.submit(
            fetch, with_query(url, params)
        )
        while pending is not None:
            page, link = pending.result()
            pending = prefetch.submit(fetch, link) if link else None
            if page:
                yield page


_FIELD_PATTERNS = (
    re.compile(
        r"\(([A-Za-z_][A-Za-z0-9_]*)\)"
    ),  # the sandbox's "'Customer group' (CustomerGroupId)"
    re.compile(r"property (?:named )?'([A-Za-z_][A-Za-z0-9_]*)'"),
    re.compile(r"must be provided: ([A-Za-z_][A-Za-z0-9_]*)"),
    re.compile(r"[Ff]ield '([A-Za-z_][A-Za-z0-9_]*)'"),
)


def field_of(message: str, record: Mapping[str, Any]) -> str | None:
    """The field a server message names: a property in parentheses or quotes, else the
    longest field of the record that the message mentions as a word."""
    for pattern in _FIELD_PATTERNS:
        for match in pattern.finditer(message):
            name = match.group(1)
            if name in record or pattern is not _FIELD_PATTERNS[0]:
                return name
    for name in sorted(record, key=len, reverse=True):
        if re.search(rf"\b{re.escape(name)}\b", message):
            return name
    return None


def _same(before: Any, after: Any) -> bool:
    """Whether a stored value already equals the value to write. Strings compare with an
    empty string equal to null (F&O never stores null text); enums compare by symbol
    (``Microsoft.Dynamics.DataEntities.NoYes'Yes'`` is ``Yes``); numbers by value."""
    if isinstance(after, str) and after.endswith("'") and "'" in after[:-1]:
        after = after[after.index("'") + 1 : -1]
    if before == after:
        return True
    if before in (None, "") and after in (None, ""):
        return True
    if isinstance(before, int | float) and isinstance(after, int | float):
        return not isinstance(before, bool) and not isinstance(after, bool) and before == after
    return False


class HttpDestination(Destination):
    """Upsert by key over OData: read what is stored, then create, update or leave unchanged.

    The template methods (``upsert``, ``preview``, ``rejection``, ``close``) are final, as
    singer-sdk's ``RecordSink.process_batch`` is: every HTTP destination reads, compares,
    batches, retries and reports outcomes the same way. A subclass implements the two
    abstract hooks, how a create and an update are sent, and overrides the optional hooks
    where its service differs (entity set names, key case, query options, filters).

    Args:
        session: The HTTPS session of the environment.
    """

    def __init__(self, session: ApiSession) -> None:
        self.session = session

    # abstract hooks ------------------------------------------------------------------------

    @abc.abstractmethod
    def create_call(self, entity: str, names: Sequence[str], key: Key, record: Record) -> Call:
        """The request that creates ``record`` (and fails if its key is taken)."""

    @abc.abstractmethod
    def update_call(self, entity: str, names: Sequence[str], key: Key, changes: Record) -> Call:
        """The request that writes ``changes`` to the stored record with ``key``."""

    # optional hooks ------------------------------------------------------------------------

    def entity_set(self, entity: str) -> str:
        """The entity set ``entity`` is read from."""
        return entity

    def normalize_key(self, names: Sequence[str], key: Key) -> Key:
        """A key as the service answers it (F&O: ``dataAreaId`` in lower case)."""
        return key

    def read_params(self) -> dict[str, str]:
        """Query options of every read (F&O: ``cross-company``)."""
        return {}

    def render_filter(self, entity: str, tree: Filter) -> str:
        """``$filter`` text for ``tree`` (Dataverse renders lookups its own way)."""
        return to_odata(tree)

    def comparable(self, name: str) -> bool:
        """Whether a field can be read back and compared (not an ``@odata.bind``)."""
        return "@" not in name

    # template methods ----------------------------------------------------------------------

    @final
    def upsert(
        self,
        entity: str,
        key: Sequence[str],
        records: list[Record],
        *,
        new: Sequence[bool] | None = None,
    ) -> list[Outcome]:
        results: list[Outcome | None] = [None] * len(records)
        if new is not None:
            # Create what p2c never wrote without reading first: on a first sync that
            # saves the read requests. A record that exists after all (made by someone
            # else, or a create retried after a lost answer) goes the read-and-update way.
            self._create_first(entity, tuple(key), records, new, results)
        rest = [i for i, r in enumerate(results) if r is None]
        done = self._write(entity, key, [records[i] for i in rest], dry_run=False)
        for i, result in zip(rest, done, strict=True):
            results[i] = result
        return [r for r in results if r is not None]

    @final
    def preview(self, entity: str, key: Sequence[str], records: list[Record]) -> list[Outcome]:
        """Read what is stored and compare; send no write (the server's validation of the
        new values does not run, so a preview cannot predict a rejection)."""
        return self._write(entity, key, records, dry_run=True)

    @final
    def rejection(self, entity: str, key: Key, record: Record, answer: Answer) -> Outcome:
        """The outcome of a write the server did not accept, as the policy classifies it:
        retryable when the retries ran out on a transient failure; the run fails on a
        problem no record can fix (permission, the token)."""
        message = error_message(answer)
        verdict = classify(answer.status, answer.headers, refreshed=True)
        if answer.exhausted or verdict.retry:
            return Outcome(
                key,
                WriteStatus.FAILED,
                None,
                f"not written: still failing after {answer.attempts} attempts "
                f"(HTTP {answer.status or 'no answer'}: {message}); run again to retry",
                True,
            )
        if verdict.action is Action.FAIL_RUN:
            raise self.session.failure(answer, f"writing {entity}")
        return Outcome(key, WriteStatus.FAILED, field_of(message, record), message)

    @final
    def close(self) -> None:
        self.session.close()

    # the steps -------------------------------------------------------------------------------

    def _create_first(
        self,
        entity: str,
        names: tuple[str, ...],
        records: list[Record],
        new: Sequence[bool],
        results: list[Outcome | None],
    ) -> None:
        chosen: list[int] = []
        seen: set[Key] = set()
        for index, (record, fresh) in enumerate(zip(records, new, strict=True)):
            raw = tuple(record.get(n) for n in names)
            if not fresh or any(v in (None, "") for v in raw):
                continue
            normalized = self.normalize_key(names, raw)
            if normalized not in seen:  # a key twice in one batch: the second waits
                seen.add(normalized)
                chosen.append(index)
        keys = {
            i: self.normalize_key(names, tuple(records[i].get(n) for n in names)) for i in chosen
        }
        calls = [self.create_call(entity, names, keys[i], records[i]) for i in chosen]
        for i, answer in zip(chosen, self.session.send_all(calls), strict=True):
            if answer.ok:
                results[i] = Outcome(keys[i], WriteStatus.CREATED)
            elif not _already_exists(answer):
                results[i] = self.rejection(entity, keys[i], records[i], answer)

    def _write(
        self, entity: str, key: Sequence[str], records: list[Record], *, dry_run: bool
    ) -> list[Outcome]:
        names = tuple(key)
        results: list[Outcome | None] = [None] * len(records)
        rounds: list[list[int]] = []
        seen: dict[Key, int] = {}
        for index, record in enumerate(records):
            raw = tuple(record.get(n) for n in names)
            missing = [n for n, v in zip(names, raw, strict=True) if v in (None, "")]
            if missing:
                results[index] = Outcome(
                    raw,
                    WriteStatus.FAILED,
                    missing[0],
                    f"All fields in the entity key must be provided: {missing[0]}.",
                )
                continue
            # A key twice in one batch: the second write waits for the first.
            normalized = self.normalize_key(names, raw)
            round_number = seen.get(normalized, -1) + 1
            seen[normalized] = round_number
            if round_number == len(rounds):
                rounds.append([])
            rounds[round_number].append(index)
        for indices in rounds:
            self._upsert_round(entity, names, records, indices, results, dry_run)
        return [r for r in results if r is not None]

    def _upsert_round(
        self,
        entity: str,
        names: tuple[str, ...],
        records: list[Record],
        indices: list[int],
        results: list[Outcome | None],
        dry_run: bool = False,
        *,
        retried: bool = False,
    ) -> None:
        keys = {
            i: self.normalize_key(names, tuple(records[i].get(n) for n in names)) for i in indices
        }
        fields = sorted({f for i in indices for f in records[i] if self.comparable(f)} | set(names))
        existing = self._existing(entity, names, list(keys.values()), fields)
        if existing is None:  # the read failed for good: nothing is lost, all retryable
            for i in indices:
                results[i] = Outcome(
                    keys[i],
                    WriteStatus.FAILED,
                    None,
                    "not written: the existing records could not be read (throttled or "
                    "unavailable); run again to retry",
                    True,
                )
            return
        planned = self._plan(entity, names, records, keys, existing, results, dry_run)
        answers = self.session.send_all([call for _, _, call in planned])
        taken: list[int] = []
        for (i, status, _), answer in zip(planned, answers, strict=True):
            if answer.ok:
                results[i] = Outcome(keys[i], status)
            elif status is WriteStatus.CREATED and _already_exists(answer) and not retried:
                # Created meanwhile, or by our own create whose answer was lost and was
                # sent again: read it and update it like any other.
                taken.append(i)
            else:
                results[i] = self.rejection(entity, keys[i], records[i], answer)
        if taken:
            self._upsert_round(entity, names, records, taken, results, dry_run, retried=True)

    def _plan(
        self,
        entity: str,
        names: tuple[str, ...],
        records: list[Record],
        keys: dict[int, Key],
        existing: dict[Key, Record],
        results: list[Outcome | None],
        dry_run: bool,
    ) -> list[tuple[int, WriteStatus, Call]]:
        """The writes of a round, compared with what is stored; what needs no write (or a
        dry run's) goes straight into ``results``."""
        planned: list[tuple[int, WriteStatus, Call]] = []
        for i, key in keys.items():
            record, before = records[i], existing.get(key)
            if before is None:
                if dry_run:
                    results[i] = Outcome(key, WriteStatus.CREATED)
                else:
                    call = self.create_call(entity, names, key, record)
                    planned.append((i, WriteStatus.CREATED, call))
                continue
            changes = {
                f: v
                for f, v in record.items()
                if f not in names and not (f in before and _same(before[f], v))
            }
            if not changes:
                results[i] = Outcome(key, WriteStatus.UNCHANGED)
            elif dry_run:
                shown = {f: (before.get(f), v) for f, v in changes.items()}
                results[i] = Outcome(key, WriteStatus.UPDATED, changes=shown)
            else:
                call = self.update_call(entity, names, key, changes)
                planned.append((i, WriteStatus.UPDATED, call))
        return planned

    def _existing(
        self, entity: str, names: tuple[str, ...], keys: list[Key], fields: list[str]
    ) -> dict[Key, Record] | None:
        """The stored records with these keys; None when the read failed on something a
        later run may get past (throttled, unavailable)."""
        batched = self.session.connection.batch_size > 1
        filters = keys_filters(
            names, keys, _FILTER_LENGTH[batched], lambda tree: self.render_filter(entity, tree)
        )
        select: list[str] | None = fields
        while True:
            params = self.read_params()
            if select is not None:
                params["$select"] = ",".join(select)
            calls = [
                Call(
                    "GET",
                    with_query(self.entity_set(entity), {**params, "$filter": text}),
                    headers={"Prefer": "odata.maxpagesize=5000"},
                )
                for text in filters
            ]
            answers = self.session.send_all(calls)
            bad = [a for a in answers if not a.ok]
            if bad and select is not None and any(a.status == 400 for a in bad):
                # A field the server does not know: read whole records, and let the write
                # of the record with that field fail on its own.
                select = None
                continue
            break
        if bad:
            verdicts = [classify(a.status, a.headers, refreshed=True) for a in bad]
            if all(a.exhausted or v.retry for a, v in zip(bad, verdicts, strict=True)):
                return None
            # A read has no record to fail: whatever else went wrong fails the run.
            raise self.session.failure(bad[0], f"reading {entity} by key")
        found: dict[Key, Record] = {}
        for answer in answers:
            body = answer.body
            while isinstance(body, dict):
                for record in body.get("value") or []:
                    found[self.normalize_key(names, tuple(record.get(n) for n in names))] = record
                link = body.get("@odata.nextLink")
                body = self.session.get_json(link) if link else None
        return found


def _already_exists(answer: Answer) -> bool:
    """A create refused because the key is taken (F&O 400 "already exists", Dataverse 412
    for a create-only PATCH, 409 elsewhere)."""
    if answer.status in (409, 412):
        return True
    return answer.status == 400 and "already exists" in error_message(answer).lower()
