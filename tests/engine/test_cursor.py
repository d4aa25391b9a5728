"""The incremental cursor of a leg, and the definition digest that keys cursors and lineage."""

from __future__ import annotations

import pytest

from p2c.engine._cursor import definition_digest
from p2c.templates import Leg, builtin_templates

# Digests of the built-in legs as the state databases of earlier versions hold them: a
# cursor or a value digest keyed by another digest would make the next run read and compare
# everything again.
STORED_DIGESTS = {
    ("Accounts (Sales to Fin and Ops) - Direct", "Source > Destination"): (
        "5b29254813eceb0c93443bee4b7aa8cd",
        "f9ff2ef60aa86c99fb01d29fcc3f72d5",
    ),
    ("Accounts (Sales to Fin and Ops)", "Source > CDS"): (
        "8081f56911da0d64f35d0e0cca5a6d55",
        "adf66d8fbf85a0452de1a3a3291644f0",
    ),
    ("Accounts (Sales to Fin and Ops)", "CDS > Destination"): (
        "115b2f36ae683ae27a5fbf8abcc11b40",
        "c08ad15c10af620b8cc4a1170459a0a6",
    ),
    ("Contacts (Sales to Fin and Ops) - Direct", "Source > Destination"): (
        "6cd6bd4c9366df5e89a84bd1f7fb48b5",
        "83f904428642d44beeb8f2a5247b3390",
    ),
    ("Contacts to Customer (Sales to Fin and Ops) - Direct", "Source > Destination"): (
        "a88ef301c0b9b61c527923951764b401",
        "57d1e27346594e6c3aa17e55af7347f6",
    ),
    ("Contacts to Customer (Sales to Fin and Ops)", "Source > CDS"): (
        "557ceca4af7cd4d3325899b338c039a3",
        "2075dbef8b949b45c6fe12978e228ab7",
    ),
    ("Contacts to Customer (Sales to Fin and Ops)", "CDS > Destination"): (
        "195bb191fa37f71fde7bf6e08d1aa37d",
        "8b668d5c083596f67821456d07d97c31",
    ),
    ("Contacts (Sales to Fin and Ops)", "Source > CDS"): (
        "08b74a8e19a6255afa70ed01d4a27f54",
        "02557b67e07db2710e06eb5c2a064482",
    ),
    ("Contacts (Sales to Fin and Ops)", "CDS > Destination"): (
        "6ac3ffdfdc3064665782a72dc0a4371a",
        "fe1a2c088fff19522a1f44e23a0d03bf",
    ),
}


@pytest.mark.parametrize(("template", "leg"), sorted(STORED_DIGESTS))
def test_definition_digests_of_the_built_in_legs_are_those_already_stored(
    template: str, leg: str
) -> None:
    (found,) = [
        one for task in builtin_templates()[template].tasks for one in task.legs if one.name == leg
    ]
    assert (definition_digest(found, "ignore"), definition_digest(found, "deactivate")) == (
        STORED_DIGESTS[template, leg]
    )


def test_definition_digest_of_every_transform_kind_is_the_stored_one() -> None:
    leg = Leg.model_validate(
        {
            "source": {"system": "sales", "entity": "contacts"},
            "destination": {"system": "finops", "entity": "CustomersV2", "key": ["dataAreaId"]},
            "map": {
                "A": "a",
                "B": {"from": "b"},
                "C": {"default": 1},
                "D": {"from": "d", "value_map": {"": "X", "1": 2}, "default": "z"},
                "E": {"fn": "concat", "args": ["a", "b"], "separator": ", "},
                "F": {"fn": "truncate", "from": "f", "length": 3, "value_map": {"ab": "c"}},
            },
        }
    )
    # Computed by the flat transform model of earlier versions.
    assert definition_digest(leg, "ignore") == "7f4e3c0332e432ab155715b9da955a9e"
