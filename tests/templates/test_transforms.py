"""Transforms as one class per kind, picked from the keys a map entry has (YAML has no
``type:``), and the message a person gets for keys that contradict each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest

from p2c import ConfigError
from p2c.templates import (
    Copy,
    Default,
    Fn,
    Leg,
    ValueMap,
    builtin_templates,
    parse_transform,
    transform_kind,
)
from p2c.workspace import CONFIG_FILE, Workspace, init_workspace


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("lastname", Copy),
        ("parentcustomerid.accountnumber", Copy),
        ({"default": "10"}, Default),
        ({"from": "country", "default": "USA"}, Default),
        ({"from": "country"}, Default),
        ({"from": "country", "value_map": {"": "USA"}}, ValueMap),
        ({"from": "code", "value_map": {"9": ""}, "default": "None"}, ValueMap),
        ({"fn": "concat", "args": ["firstname", "lastname"]}, Fn),
        ({"fn": "trim", "from": "c", "value_map": {"US": "USA"}, "default": "CAN"}, Fn),
        ({"fn": "truncate", "from": "name", "length": 4}, Fn),
    ],
)
def test_the_kind_is_picked_from_the_keys(written: Any, kind: type) -> None:
    transform = parse_transform(written)
    assert type(transform) is kind
    assert transform_kind(written) == kind.__name__
    # A transform already made keeps its kind.
    assert parse_transform(transform) is transform


def test_each_kind_names_the_fields_it_reads() -> None:
    assert parse_transform("a.b").source_fields() == ["a.b"]
    assert parse_transform({"default": 1}).source_fields() == []
    assert parse_transform({"from": "x", "value_map": {}}).source_fields() == ["x"]
    assert parse_transform({"fn": "concat", "args": ["a", "b"]}).source_fields() == ["a", "b"]


def test_a_copy_is_written_back_as_a_plain_string() -> None:
    leg = Leg.model_validate(
        {
            "source": {"system": "sales", "entity": "contacts"},
            "destination": {"system": "finops", "entity": "CustomersV2", "key": ["dataAreaId"]},
            "map": {"LastName": "lastname", "Group": {"default": "10"}},
        }
    )
    dumped = leg.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped["map"] == {"LastName": "lastname", "Group": {"default": "10"}}
    assert Leg.model_validate(dumped) == leg


def test_every_built_in_template_reads_as_before() -> None:
    kinds: set[str] = set()
    for template in builtin_templates().values():
        for task in template.tasks:
            for leg in task.legs:
                kinds.update(type(t).__name__ for t in leg.map.values())
    assert kinds == {"Copy", "Default", "ValueMap", "Fn"}


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ({}, "a transform is a source field, or a mapping with from, default, value_map or fn"),
        (5, "a transform is a source field, or a mapping with from, default, value_map or fn"),
        ({"default": None}, "default needs a value, or give from: <field>"),
        ({"value_map": {"": "USA"}}, "value_map needs from: <field>"),
        ({"value_map": {"": "USA"}, "default": "X"}, "value_map needs from: <field>"),
        ({"from": "x", "args": ["a"]}, "args goes with fn: concat, not with Default"),
        ({"default": "x", "separator": ","}, "separator goes with fn: concat, not with Default"),
        ({"from": "x", "length": 3}, "length goes with fn: truncate, not with Default"),
        ({"from": "x", "value_map": {}, "length": 3}, "length goes with fn: truncate, not with"),
        ({"fn": "concat"}, "fn concat needs args: [field, field, ...]"),
        ({"fn": "concat", "args": ["a"], "from": "x"}, "fn concat joins args and takes no from"),
        ({"fn": "upper", "args": ["a"]}, "fn upper needs from: <field>"),
        ({"fn": "upper", "from": "x", "args": ["a"]}, "fn upper takes from: <field>, not args"),
        ({"fn": "trim", "from": "x", "separator": "-"}, "separator goes with fn: concat"),
        ({"fn": "truncate", "from": "x"}, "fn truncate needs length"),
        ({"fn": "lower", "from": "x", "length": 2}, "length goes with fn: truncate"),
        ({"fn": "reverse", "from": "x"}, "Input should be 'concat', 'upper', 'lower'"),
        ({"from": "x", "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_contradictory_or_missing_keys_are_named(written: Any, message: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        parse_transform(written)
    assert message in str(caught.value)


def test_a_contradiction_in_p2c_yaml_names_line_and_key(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root)
    path = root / CONFIG_FILE
    text = path.read_text(encoding="utf-8").splitlines()
    project = next(i for i, line in enumerate(text) if "template: Contacts to Customer" in line)
    at = text.index("  tasks: {}", project)
    text[at : at + 1] = [
        "  tasks:",
        "    ContactToCustomer:",
        "      map:",
        "        SiteId: {from: address1_city, length: 4}",
    ]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        Workspace.open(root)
    message = str(caught.value)
    assert f"line {at + 4}," in message  # 1-based: the SiteId line
    assert "map.SiteId" in message
    assert "length goes with fn: truncate, not with Default" in message
