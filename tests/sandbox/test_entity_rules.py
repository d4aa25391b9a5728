"""Rules per entity: an entity an extension adds to the model gets a table when the sandbox
opens and is written through the rules class registered for it; an entity without rules is
refused, never written by another entity's rules."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from p2c import ConfigError, NotFoundError
from p2c.dynamics import CDS, FINOPS, Entity, Field, FieldType
from p2c.sandbox import CDSHub, EntityRules, FinOpsSandbox, Rejection, register_rules
from p2c.sandbox import _rules as rules_module

COLOURS = ("Red", "Green", "Blue")
GADGETS = Entity(
    "Gadget",
    "Gadgets",
    (
        Field("dataAreaId", FieldType.STRING, 4, required=True, label="Company", fold_case=True),
        Field("GadgetId", FieldType.STRING, 20, required=True, label="Gadget"),
        Field("Name", FieldType.STRING, 30, label="Name"),
        Field("Colour", FieldType.STRING, 10, label="Colour"),
        Field("SerialNumber", FieldType.STRING, 10, label="Serial number"),
    ),
    key=("dataAreaId", "GadgetId"),
    label="Gadgets",
    organization="dataAreaId",
)
WIDGETS = Entity(
    "Widget",
    "Widgets",
    (Field("WidgetId", FieldType.STRING, 20, required=True),),
    key=("WidgetId",),
)


class GadgetRules(EntityRules[FinOpsSandbox]):
    """A company's gadgets: a known company and colour; a serial number on create; each
    write counted in a sandbox setting (a side effect in the write's transaction)."""

    def prepare_batch(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        return set(self.system.legal_entities())

    def on_create(self, row: dict[str, Any]) -> None:
        number = int(self.system.store.setting("sequence:gadget", "1") or 1)
        self.system.store.set_setting("sequence:gadget", str(number + 1))
        row["SerialNumber"] = f"G{number:05d}"

    def validate(
        self, row: dict[str, Any], existing: Mapping[str, Any] | None, context: Any
    ) -> Rejection | None:
        if row["dataAreaId"] not in context:
            return Rejection("dataAreaId", f"Company '{row['dataAreaId']}' does not exist.")
        if row.get("Colour") and row["Colour"] not in COLOURS:
            return Rejection("Colour", f"The colour '{row['Colour']}' is not a gadget colour.")
        return None

    def after_write(self, rows: Sequence[dict[str, Any]]) -> None:
        written = int(self.system.store.setting("gadgets:written", "0") or 0)
        self.system.store.set_setting("gadgets:written", str(written + len(rows)))


@pytest.fixture
def extensible(monkeypatch: pytest.MonkeyPatch) -> None:
    """Entities added to the model and rules registered in a test are gone after it."""
    for model in (FINOPS, CDS):
        monkeypatch.setattr(model, "_entities", dict(model._entities))
    registry = {system: dict(rules) for system, rules in rules_module._REGISTRY.items()}
    monkeypatch.setattr(rules_module, "_REGISTRY", registry)


@pytest.fixture
def gadgets(extensible: None, tmp_path: Path) -> Iterator[FinOpsSandbox]:
    FINOPS.add(GADGETS)
    register_rules("finops", "Gadgets", GadgetRules)
    system = FinOpsSandbox(tmp_path / "finops.db", create=True)
    system.initialize()
    yield system
    system.close()


def gadget(number: str, **more: Any) -> dict[str, Any]:
    return {"dataAreaId": "usmf", "GadgetId": number, "Name": f"Gadget {number}", **more}


def test_an_added_entity_is_written_through_its_rules(gadgets: FinOpsSandbox) -> None:
    batch = [
        gadget("G1", Colour="Red"),
        gadget("G2", Colour="Mauve"),
        gadget("G3", dataAreaId="XXXX"),
        gadget("G4", Name="x" * 31),
        gadget("G5"),
    ]
    outcomes = gadgets.upsert("Gadgets", batch)
    assert [o.status for o in outcomes] == ["created", "failed", "failed", "failed", "created"]
    assert [o.key for o in outcomes] == [
        ("usmf", "G1"),
        ("usmf", "G2"),
        ("xxxx", "G3"),  # the company is folded to lower case by its field
        ("usmf", "G4"),
        ("usmf", "G5"),
    ]
    assert (outcomes[1].field, outcomes[1].message) == (
        "Colour",
        "The colour 'Mauve' is not a gadget colour.",
    )
    assert outcomes[2].field == "dataAreaId"
    assert outcomes[3].field == "Name" and "maximum length is 30" in (outcomes[3].message or "")
    stored = {g["GadgetId"]: g for g in gadgets.export("Gadgets")}
    assert sorted(stored) == ["G1", "G5"]
    # on_create runs before validate: refused new records took numbers too, as in F&O.
    assert (stored["G1"]["SerialNumber"], stored["G5"]["SerialNumber"]) == ("G00001", "G00004")
    assert gadgets.store.setting("gadgets:written") == "2"

    again = gadgets.upsert("Gadgets", [gadget("G1", Colour="Red"), gadget("G5", Colour="Blue")])
    assert [o.status for o in again] == ["unchanged", "updated"]
    assert {g["GadgetId"]: g["SerialNumber"] for g in gadgets.export("Gadgets")} == {
        "G1": "G00001",
        "G5": "G00004",  # on_create runs for new records only
    }


def test_a_dry_run_of_an_added_entity_keeps_nothing(gadgets: FinOpsSandbox) -> None:
    (outcome,) = gadgets.upsert("Gadgets", [gadget("G1")], dry_run=True)
    assert outcome.status == "created"
    assert gadgets.count("Gadgets") == 0
    assert gadgets.store.setting("gadgets:written") is None


def test_an_entity_added_after_the_file_was_made_gets_its_table(
    extensible: None, tmp_path: Path
) -> None:
    FinOpsSandbox(tmp_path / "finops.db", create=True).initialize()
    FINOPS.add(GADGETS)
    register_rules("finops", "Gadget", GadgetRules)  # by entity name as well as entity set
    system = FinOpsSandbox(tmp_path / "finops.db")
    try:
        assert system.count("Gadgets") == 0
        assert [o.status for o in system.upsert("Gadgets", [gadget("G1")])] == ["created"]
    finally:
        system.close()


def test_an_entity_without_rules_is_refused_naming_the_fix(
    extensible: None, tmp_path: Path
) -> None:
    FINOPS.add(GADGETS)
    system = FinOpsSandbox(tmp_path / "finops.db", create=True)
    try:
        system.initialize()
        with pytest.raises(ConfigError) as caught:
            system.upsert("Gadgets", [gadget("G1")])
        assert caught.value.message == (
            "Finance and Operations has no rules for entity 'Gadgets' (Gadget), so the "
            "sandbox does not write it."
        )
        assert "register_rules('finops', 'Gadgets', YourRules)" in (caught.value.fix or "")
        with pytest.raises(ConfigError):
            system.upsert("Gadgets", [gadget("G1")], dry_run=True)
        # Its table is there: reading it is fine, and nothing was written.
        assert system.count("Gadgets") == 0
        assert list(system.export("Gadgets")) == []
    finally:
        system.close()


def test_entity_rules_itself_takes_what_passes_the_field_checks(
    extensible: None, tmp_path: Path
) -> None:
    CDS.add(WIDGETS)
    register_rules("cds", "widgets", EntityRules)  # F&O and CDS names ignore case
    hub = CDSHub(tmp_path / "cds.db", create=True)
    try:
        outcomes = hub.upsert("Widgets", [{"WidgetId": "W1"}, {"WidgetId": "x" * 21}])
        assert [o.status for o in outcomes] == ["created", "failed"]
    finally:
        hub.close()


def test_a_registration_replaces_the_built_in_rules(extensible: None, tmp_path: Path) -> None:
    class NoNewCustomers(EntityRules[FinOpsSandbox]):
        def validate(
            self, row: dict[str, Any], existing: Mapping[str, Any] | None, context: Any
        ) -> Rejection | None:
            return None if existing else Rejection(None, "No new customers this quarter.")

    register_rules("finops", "CustomersV2", NoNewCustomers)
    system = FinOpsSandbox(tmp_path / "finops.db", create=True)
    try:
        customer = {"dataAreaId": "usmf", "CustomerAccount": "C1", "CustomerGroupId": "10"}
        (outcome,) = system.upsert("CustomersV2", [customer])
        assert (outcome.status, outcome.message) == ("failed", "No new customers this quarter.")
    finally:
        system.close()


def test_rules_are_registered_for_keyed_systems_only(extensible: None) -> None:
    with pytest.raises(NotFoundError) as caught:
        register_rules("sales", "contacts", EntityRules)
    assert caught.value.fix == "use one of: finops, cds; Sales is written through its loads"
    with pytest.raises(TypeError):
        register_rules("finops", "Gadgets", GADGETS)  # type: ignore[arg-type]


def test_every_built_in_keyed_entity_has_rules(tmp_path: Path) -> None:
    finops = FinOpsSandbox(tmp_path / "finops.db", create=True)
    hub = CDSHub(tmp_path / "cds.db", create=True)
    try:
        for system in (finops, hub):
            for entity in system.entities:
                assert isinstance(system.rules(entity), EntityRules), entity.name
    finally:
        finops.close()
        hub.close()
