"""What the engine takes from the model of Dynamics instead of naming entities: the
deactivation rule (from each entity's ``activity``) and the organization field (from each
entity's ``organization`` and the connection set's organization mappings), over made-up
entities as much as over the real ones."""

from __future__ import annotations

from typing import Any

import pytest

from p2c import ConfigError
from p2c.dynamics import Activity, Entity, Field, FieldType, system_model
from p2c.engine._activity import Deactivation
from p2c.engine._organization import OrganizationResolver
from p2c.engine._records import ErrorRow
from p2c.templates import Leg, builtin_templates
from p2c.workspace import ConnectionSet, OrganizationMapping, Project, SandboxConnection

S = FieldType.STRING

# A made-up pair: tickets in a source where "closed" is inactive, cases in a destination
# with a Boolean "Archived".
TICKET = Entity(
    "ticket",
    "tickets",
    (Field("ticketid", S), Field("status", S), Field("team", S)),
    key=("ticketid",),
    organization="team",
    activity=Activity("status", "open", "closed"),
)
CASE = Entity(
    "Case",
    "Cases",
    (Field("Company", S), Field("CaseId", S), Field("Archived", FieldType.BOOL)),
    key=("Company", "CaseId"),
    organization="Company",
    activity=Activity("Archived", False, True),
)
NOTE = Entity("Note", "Notes", (Field("NoteId", S),), key=("NoteId",))


def leg(mapping: dict[str, Any] | None = None) -> Leg:
    return Leg.model_validate(
        {
            "source": {"system": "sales", "entity": "tickets"},
            "destination": {"system": "finops", "entity": "Cases", "key": ["Company", "CaseId"]},
            "map": mapping or {"CaseId": "ticketid"},
        }
    )


# deactivation -------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "archived"), [("closed", True), ("open", False), (None, False)])
def test_an_inactive_source_record_makes_its_destination_record_inactive(
    status: str | None, archived: bool
) -> None:
    rule = Deactivation.between(TICKET, CASE, leg().map)
    assert rule is not None and rule.column == "status"
    mapped: dict[str, Any] = {"CaseId": "T-1"}
    rule.apply({"ticketid": "T-1", "status": status}, mapped)
    assert mapped == {"CaseId": "T-1", "Archived": archived}


def test_no_rule_when_either_entity_has_no_activity() -> None:
    assert Deactivation.between(TICKET, NOTE, []) is None
    assert Deactivation.between(NOTE, CASE, []) is None


def test_a_leg_that_maps_the_destination_activity_field_keeps_its_mapping() -> None:
    mapped = leg({"CaseId": "ticketid", "Archived": {"default": False}}).map
    assert Deactivation.between(TICKET, CASE, mapped) is None


def test_of_the_built_in_legs_only_those_writing_contact_persons_deactivate() -> None:
    ruled = {}
    for template in builtin_templates().values():
        for task in template.tasks:
            for one in task.legs:
                source = system_model(one.source.system).entity(one.source.entity)
                destination = system_model(one.destination.system).entity(one.destination.entity)
                rule = Deactivation.between(source, destination, one.map)
                if rule is not None:
                    ruled[template.name, one.name] = rule
    # The Sales > CDS contact leg maps StateCode itself; the customer legs have no activity.
    assert sorted(ruled) == [
        ("Contacts (Sales to Fin and Ops)", "CDS > Destination"),
        ("Contacts (Sales to Fin and Ops) - Direct", "Source > Destination"),
    ]
    direct = ruled["Contacts (Sales to Fin and Ops) - Direct", "Source > Destination"]
    via_cds = ruled["Contacts (Sales to Fin and Ops)", "CDS > Destination"]
    for rule, inactive, active in [(direct, 1, 0), (via_cds, "Inactive", "Active")]:
        for value, expected in [(inactive, "Yes"), (active, "No")]:
            mapped: dict[str, Any] = {}
            rule.apply({rule.column: value}, mapped)
            assert mapped == {"IsInactive": expected}


# organizations ------------------------------------------------------------------------------

MAPPINGS = [
    OrganizationMapping(business_unit="Contoso Sales", legal_entity="usmf"),
    OrganizationMapping(
        business_unit="Contoso Europe", legal_entity="demf", cds_organization="EU1"
    ),
]


def connections(mappings: list[OrganizationMapping]) -> ConnectionSet:
    sandbox = SandboxConnection(path="sandbox/x.db")
    return ConnectionSet(sales=sandbox, finops=sandbox, organizations=mappings)


def test_each_system_names_an_organization_its_own_way() -> None:
    mapping = MAPPINGS[1]
    assert [mapping.value_for(s) for s in ("sales", "finops", "cds")] == [
        "Contoso Europe",
        "demf",
        "EU1",
    ]


def test_the_source_entity_names_the_organization_column_and_the_destination_the_target() -> None:
    resolver = OrganizationResolver(
        connections(MAPPINGS), Project(name="p", template="t"), leg(), TICKET, CASE
    )
    assert resolver.column == "team" and not resolver.single and resolver.constant is None
    assert resolver.values({"team": "Contoso Europe"}) == {"Company": "demf"}
    assert resolver.values({"team": "Contoso Sales"}) == {"Company": "usmf"}
    unmapped = resolver.values({"team": "Fabrikam"})
    assert isinstance(unmapped, ErrorRow) and unmapped.field == "team"
    assert "'Fabrikam' has no organization mapping" in unmapped.message


def test_one_mapping_is_a_constant_of_every_record() -> None:
    resolver = OrganizationResolver(
        connections(MAPPINGS[:1]), Project(name="p", template="t"), leg(), TICKET, CASE
    )
    assert resolver.single and resolver.constant == {"Company": "usmf"}


def test_a_project_of_one_business_unit_skips_the_others() -> None:
    project = Project(name="p", template="t", business_unit="Contoso Europe")
    resolver = OrganizationResolver(connections(MAPPINGS), project, leg(), TICKET, CASE)
    assert not resolver.single
    assert resolver.values({"team": "Contoso Europe"}) == {"Company": "demf"}
    assert resolver.values({"team": "Contoso Sales"}) is None
    with pytest.raises(ConfigError, match="no organization mapping"):
        OrganizationResolver(
            connections(MAPPINGS),
            Project(name="p", template="t", business_unit="Fabrikam"),
            leg(),
            TICKET,
            CASE,
        )


def test_an_organization_field_the_leg_maps_or_the_destination_lacks_is_not_set() -> None:
    mapped = leg({"CaseId": "ticketid", "Company": {"default": "usrt"}})
    project = Project(name="p", template="t")
    explicit = OrganizationResolver(connections(MAPPINGS), project, mapped, TICKET, CASE)
    assert explicit.values({"team": "Contoso Sales"}) == {}
    without = OrganizationResolver(connections(MAPPINGS[:1]), project, leg(), TICKET, NOTE)
    assert without.constant == {}
