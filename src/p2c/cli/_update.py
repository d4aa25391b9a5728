"""``p2c sandbox update sales FILE``: change records of the sandbox Sales, as a person would
correct them in Sales ("correct it in Sales, then run again").

FILE is shaped like a load file, ``{"contacts": [...], "accounts": [...]}``; each item names
its record by its id (``contactid``) or by an alternate key (``msdynce_contactnumber``), and
its other columns are the changes. The changes go through the sandbox Sales rules (the
Prospect-to-cash plug-in steps) and move ``modifiedon``, so the next ``p2c run`` reads the
records. All or nothing: one bad item and nothing is updated.
"""

from __future__ import annotations

__all__ = ["apply_updates", "register_update"]

from pathlib import Path
from typing import Annotated, Any

import typer

from p2c._errors import InputError, NotFoundError, P2CError
from p2c.cli._render import WorkspaceOption, out
from p2c.cli._sandbox import read_load_file
from p2c.dynamics import SALES, Entity
from p2c.sandbox import SalesSandbox
from p2c.workspace import Workspace


def _identify(
    sales: SalesSandbox, entity: Entity, body: dict[str, Any], position: str
) -> tuple[str, dict[str, Any]]:
    """The id of the record an item names, and the item's changes."""
    key = entity.key[0]
    if body.get(key):
        return str(body[key]), {k: v for k, v in body.items() if k != key}
    for columns in entity.alternate_keys.values():
        if all(body.get(c) not in (None, "") for c in columns):
            values = {c: body[c] for c in columns}
            record_id = sales.find(entity.entity_set, values)
            if record_id is None:
                shown = ", ".join(f"{c} = {v!r}" for c, v in values.items())
                raise NotFoundError(
                    f"no {entity.name} has {shown}",
                    record=position,
                    fix="check the key (`p2c sandbox export sales "
                    f"{entity.entity_set}` lists the records)",
                )
            return record_id, {k: v for k, v in body.items() if k not in columns}
    keys = [key, *(" + ".join(c) for c in entity.alternate_keys.values())]
    raise P2CError(
        "the item does not say which record to update",
        record=position,
        fix=f"give {' or '.join(keys)}",
    )


def _update_one(sales: SalesSandbox, entity: Entity, body: Any, position: str) -> list[P2CError]:
    """Update one record; the problems it had (positioned in the file), if any."""
    if not isinstance(body, dict):
        return [P2CError("expected a JSON object", record=position)]
    try:
        record_id, changes = _identify(sales, entity, body, position)
        if not changes:
            raise P2CError("the item changes nothing", record=position, fix="give a column")
        sales.update(entity.entity_set, record_id, changes)
    except InputError as refused:
        return [
            P2CError(p.message, record=position, field=p.field, fix=p.fix)
            for p in refused.problems or [refused]
        ]
    except P2CError as problem:
        return [P2CError(problem.message, record=position, field=problem.field, fix=problem.fix)]
    return []


def apply_updates(sales: SalesSandbox, document: dict[str, Any]) -> dict[str, int]:
    """Update the records a document names, all or nothing; how many per entity set.

    Raises:
        InputError: listing every item that could not be updated (nothing was).
    """
    counts: dict[str, int] = {}
    problems: list[P2CError] = []
    with sales.store.transaction():
        for set_name, items in document.items():
            try:
                entity = SALES.entity(set_name)
            except P2CError as unknown:
                problems.append(
                    P2CError(unknown.message.rstrip("."), record=set_name, fix=unknown.fix)
                )
                continue
            if not isinstance(items, list):
                problems.append(P2CError("expected a JSON array of records", record=set_name))
                continue
            for index, body in enumerate(items):
                problems += _update_one(sales, entity, body, f"{set_name}[{index}]")
            counts[set_name] = len(items)
        if problems:  # raised inside the transaction: it rolls back
            raise InputError(
                f"The update file has {len(problems)} problem(s); nothing was updated.", problems
            )
    return counts


def register_update(sandbox: typer.Typer) -> None:
    @sandbox.command("update")
    def update(
        system: Annotated[str, typer.Argument(help="The system to update: sales.")],
        file: Annotated[
            Path,
            typer.Argument(
                help='JSON: {"contacts": [{"contactid": "…", "address1_country": "Sweden"}]}; '
                "each record by its id or an alternate key (msdynce_contactnumber)."
            ),
        ],
        workspace: WorkspaceOption = None,
    ) -> None:
        """Change records of the sandbox Sales through its rules, all or nothing: the next
        run reads them ("correct it in Sales, then run again")."""
        if system != "sales":
            raise NotFoundError(
                f"Cannot update {system!r}.",
                fix="update `sales`; F&O and CDS are written by the integration",
            )
        document = read_load_file(file)
        sales = Workspace.open(workspace).sales()
        try:
            counts = apply_updates(sales, document)
        finally:
            sales.close()
        out.print("Updated " + ", ".join(f"{n} {name}" for name, n in counts.items()) + ".")
