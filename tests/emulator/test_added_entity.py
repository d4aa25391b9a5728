"""An entity an extension adds to the F&O model is served by the emulator: in ``$metadata``,
written through the rules registered for it, one by one and in a ``$batch``; without rules
it is refused with the sandbox's message."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from emulator_helpers import Api

from p2c.dynamics import FINOPS, Entity, Field, FieldType
from p2c.emulator import serve
from p2c.sandbox import EntityRules, FinOpsSandbox, Rejection, register_rules
from p2c.sandbox import _rules as rules_module

GADGETS = Entity(
    "Gadget",
    "Gadgets",
    (
        Field("dataAreaId", FieldType.STRING, 4, required=True, fold_case=True),
        Field("GadgetId", FieldType.STRING, 20, required=True),
        Field("Colour", FieldType.STRING, 10),
    ),
    key=("dataAreaId", "GadgetId"),
    organization="dataAreaId",
)


class GadgetRules(EntityRules[FinOpsSandbox]):
    def validate(
        self, row: dict[str, Any], existing: Mapping[str, Any] | None, context: Any
    ) -> Rejection | None:
        if row.get("Colour") not in (None, "Red", "Blue"):
            return Rejection("Colour", f"The colour '{row['Colour']}' is not a gadget colour.")
        return None


@pytest.fixture
def extended(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gadgets in the F&O model for this test only; no rules registered yet."""
    monkeypatch.setattr(FINOPS, "_entities", dict(FINOPS._entities))
    registry = {system: dict(rules) for system, rules in rules_module._REGISTRY.items()}
    monkeypatch.setattr(rules_module, "_REGISTRY", registry)
    FINOPS.add(GADGETS)


@pytest.fixture
def gadget_api(extended: None, workspace: Path) -> Iterator[Api]:
    with serve(workspace) as emulator:
        client = Api(emulator)
        yield client
        client.close()


def test_an_added_entity_is_served_and_written_through_its_rules(
    extended: None, workspace: Path
) -> None:
    register_rules("finops", "Gadgets", GadgetRules)
    with serve(workspace) as emulator:
        api = Api(emulator)
        try:
            assert 'EntitySet Name="Gadgets"' in api.get("finops", "$metadata").text
            created = api.request("finops", "POST", "Gadgets", json={"GadgetId": "G1"})
            assert created.status_code == 201, created.text
            assert created.json()["dataAreaId"] == "usmf"  # the user's company
            refused = api.request(
                "finops", "POST", "Gadgets", json={"GadgetId": "G2", "Colour": "Mauve"}
            )
            assert refused.status_code == 400
            inner = refused.json()["error"]["innererror"]["message"]
            assert "The colour 'Mauve' is not a gadget colour." in inner
            answers = api.batch(
                "finops",
                [[("POST", "Gadgets", {"GadgetId": f"B{n}", "Colour": "Red"})] for n in range(3)],
                Prefer="odata.continue-on-error",
            )
            assert [a["status"] for a in answers] == [201, 201, 201]
            listed = api.get("finops", "Gadgets").json()["value"]
            assert sorted(g["GadgetId"] for g in listed) == ["B0", "B1", "B2", "G1"]
        finally:
            api.close()


def test_an_added_entity_without_rules_is_refused(gadget_api: Api) -> None:
    answer = gadget_api.request("finops", "POST", "Gadgets", json={"GadgetId": "G1"})
    assert answer.status_code == 400
    assert "has no rules for entity 'Gadgets'" in answer.json()["error"]["message"]
    # Independent writes of a batch are refused one by one, as if each were alone.
    answers = gadget_api.batch(
        "finops",
        [[("POST", "Gadgets", {"GadgetId": f"B{n}"})] for n in range(2)],
        Prefer="odata.continue-on-error",
    )
    assert [a["status"] for a in answers] == [400, 400]
    assert "has no rules for entity 'Gadgets'" in answers[1]["json"]["error"]["message"]
    assert gadget_api.get("finops", "Gadgets").json()["value"] == []
