"""Organization mappings: each business unit (and, via CDS, each CDS organization) names one
legal entity, and every name exists in its system.

The first is checked when p2c.yaml is read. The second needs the systems: it is checked at
the start of every run, before anything is written, with one read per system through the
run's own connectors (the sandbox in-process, Dataverse and F&O over HTTPS), and by
``p2c connections test``.
"""

from __future__ import annotations

__all__ = ["check_mappings", "check_organizations"]

from collections.abc import Iterable
from typing import TYPE_CHECKING

from p2c._yamlfile import YamlLines
from p2c.config._problems import Loc, Problem, near, refuse
from p2c.connectors import ReadRequest, System

if TYPE_CHECKING:
    from p2c.workspace import ConnectionSet, Workspace, WorkspaceConfig

# Where each system keeps the names of its organizations, and how it compares them
# (F&O company ids are case-insensitive).
_DIRECTORY: dict[System, tuple[str, str, str, bool]] = {
    "sales": ("businessunits", "name", "business_unit", False),
    "finops": ("LegalEntities", "LegalEntityId", "legal_entity", True),
    "cds": ("Organization", "OrganizationId", "cds_organization", True),
}
_LABEL = {
    "business_unit": "business unit",
    "legal_entity": "legal entity",
    "cds_organization": "CDS organization",
}


def check_mappings(config: WorkspaceConfig, lines: YamlLines) -> list[Problem]:
    """Every connection set has an organization mapping; no business unit (or CDS
    organization, through the hub) leads to two legal entities."""
    problems = []
    for name, connections in config.connection_sets.items():
        loc: Loc = ("connection_sets", name, "organizations")
        if not connections.organizations:
            problems.append(
                Problem(
                    loc,
                    "the connection set has no organization mapping, so no record has a legal "
                    "entity to go to",
                    "add one: - {business_unit: <Sales business unit>, legal_entity: <company>}",
                )
            )
        problems.extend(_one_target(loc, connections, "business_unit", lines))
        if connections.cds is not None:
            problems.extend(_one_target(loc, connections, "cds_organization", lines))
    return problems


def _one_target(loc: Loc, connections: ConnectionSet, key: str, lines: YamlLines) -> list[Problem]:
    problems = []
    first: dict[str, int] = {}
    for index, mapping in enumerate(connections.organizations):
        name = getattr(mapping, key)
        if name not in first:
            first[name] = index
            continue
        earlier = connections.organizations[first[name]]
        line = lines.line((*loc, first[name]))
        label = _LABEL[key]
        if earlier.legal_entity.lower() == mapping.legal_entity.lower():
            message = f"{label} {name!r} is mapped twice to legal entity {mapping.legal_entity!r}"
            fix = f"remove one of the two (the first is on line {line})"
        else:
            message = (
                f"{label} {name!r} is mapped to legal entity {earlier.legal_entity!r} (line "
                f"{line}) and again to {mapping.legal_entity!r}: its records would all land in "
                f"{mapping.legal_entity!r}, the last one"
            )
            fix = f"map each {label} to one legal entity: keep one of the two"
        problems.append(Problem((*loc, index, key), message, fix))
    return problems


def check_organizations(workspace: Workspace, connection_sets: Iterable[str]) -> None:
    """The business units, legal entities and CDS organizations of these connection sets
    exist in their systems: one read per system, before a run writes anything.

    Raises:
        ConfigError: a name does not exist (with its line in p2c.yaml and the near names).
        ConnectionFailed: a system cannot be read.
    """
    problems: list[Problem] = []
    for name in dict.fromkeys(connection_sets):
        connections = workspace.connection_set(name)
        systems: list[System] = ["sales", "finops"]
        if connections.cds is not None:
            systems.append("cds")
        for system in systems:
            problems.extend(_missing(workspace, name, connections, system))
    if problems:
        from p2c.workspace import CONFIG_FILE  # the workspace imports this package

        refuse(problems, YamlLines.read(workspace.root / CONFIG_FILE))


def _missing(
    workspace: Workspace, name: str, connections: ConnectionSet, system: System
) -> list[Problem]:
    entity, column, key, fold = _DIRECTORY[system]
    with workspace.source(name, system) as source:
        pages = source.read(ReadRequest(entity, (column,)))
        known = [str(record[column]) for page in pages for record in page]
    have = {k.lower() for k in known} if fold else set(known)
    connection = workspace.connection(name, system)
    where = connection.kind.where(connection)
    problems = []
    for index, mapping in enumerate(connections.organizations):
        value = getattr(mapping, key)
        if (value.lower() if fold else value) in have:
            continue
        problems.append(
            Problem(
                ("connection_sets", name, "organizations", index, key),
                f"{_LABEL[key]} {value!r} does not exist in {system} ({where})",
                near(value, known) + f"use one of: {', '.join(sorted(known)[:10])}",
            )
        )
    return problems
