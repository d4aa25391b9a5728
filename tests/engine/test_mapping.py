"""The compiled field mappings: copy, Default, ValueMap and Fn, as the Data Integrator does."""

from __future__ import annotations

from typing import Any

import pytest

from p2c.engine import compile_map
from p2c.templates import Transform, parse_transform


def fm(**spec: Any) -> Transform:
    return parse_transform(spec)


def test_plain_copies_and_constants_in_map_order() -> None:
    compiled = compile_map({"LastName": "lastname", "Group": fm(default="10")})
    assert compiled.apply({"lastname": "Lee"}) == {"LastName": "Lee", "Group": "10"}
    assert compiled.columns == ("lastname",)
    assert list(compiled.apply({"lastname": None})) == ["LastName", "Group"]


@pytest.mark.parametrize(("value", "expected"), [(None, "USA"), ("", "USA"), ("SWE", "SWE")])
def test_default_applies_to_an_empty_source_only(value: Any, expected: str) -> None:
    compiled = compile_map({"Country": fm(**{"from": "country", "default": "USA"})})
    assert compiled.apply({"country": value}) == {"Country": expected}


def test_value_map_with_blank_key_for_empty_values() -> None:
    spec = fm(**{"from": "country", "value_map": {"": "USA", "Sweden": "SWE"}})
    apply = compile_map({"Country": spec}).apply
    assert apply({"country": "Sweden"}) == {"Country": "SWE"}
    assert apply({"country": None}) == {"Country": "USA"}
    assert apply({"country": ""}) == {"Country": "USA"}
    # A value the map does not name passes through unchanged.
    assert apply({"country": "Norway"}) == {"Country": "Norway"}


def test_value_map_without_blank_key_leaves_empty_values_empty() -> None:
    apply = compile_map({"Gender": fm(**{"from": "gendercode", "value_map": {"1": "Male"}})}).apply
    assert apply({"gendercode": None}) == {"Gender": None}
    assert apply({"gendercode": ""}) == {"Gender": None}


def test_value_map_keys_match_numbers_and_booleans_as_text() -> None:
    spec = fm(**{"from": "code", "value_map": {"1": "Single", "2.5": "Half", "true": "Yes"}})
    apply = compile_map({"Status": spec}).apply
    assert apply({"code": 1}) == {"Status": "Single"}
    assert apply({"code": 1.0}) == {"Status": "Single"}
    assert apply({"code": 2.5}) == {"Status": "Half"}
    assert apply({"code": True}) == {"Status": "Yes"}


def test_value_map_then_default() -> None:
    spec = fm(**{"from": "code", "value_map": {"9": ""}, "default": "None"})
    apply = compile_map({"Status": spec}).apply
    assert apply({"code": 9}) == {"Status": "None"}
    assert apply({"code": None}) == {"Status": "None"}


def test_concat_skips_empty_parts() -> None:
    spec = fm(fn="concat", args=["firstname", "middlename", "lastname"])
    apply = compile_map({"Name": spec}).apply
    assert apply({"firstname": "Ann", "middlename": None, "lastname": "Lee"}) == {"Name": "Ann Lee"}
    assert apply({"firstname": "", "middlename": None, "lastname": "Lee"}) == {"Name": "Lee"}
    assert compile_map({"Name": spec}).columns == ("firstname", "middlename", "lastname")


def test_concat_separator_and_default_when_all_parts_are_empty() -> None:
    spec = fm(fn="concat", args=["a", "b"], separator=", ", default="(none)")
    apply = compile_map({"X": spec}).apply
    assert apply({"a": "x", "b": 2}) == {"X": "x, 2"}
    assert apply({"a": None, "b": ""}) == {"X": "(none)"}


@pytest.mark.parametrize(
    ("fn", "extra", "value", "expected"),
    [
        ("upper", {}, "usmf", "USMF"),
        ("lower", {}, "USMF", "usmf"),
        ("trim", {}, "  Lee ", "Lee"),
        ("truncate", {"length": 4}, "Contoso", "Cont"),
        ("upper", {}, None, None),
        ("truncate", {"length": 4}, 123456, 123456),  # only text is changed
    ],
)
def test_text_functions(fn: str, extra: dict[str, Any], value: Any, expected: Any) -> None:
    apply = compile_map({"X": fm(**{"from": "v", "fn": fn, **extra})}).apply
    assert apply({"v": value}) == {"X": expected}


def test_function_then_value_map_then_default() -> None:
    spec = fm(**{"from": "c", "fn": "trim", "value_map": {"US": "USA"}, "default": "CAN"})
    apply = compile_map({"Country": spec}).apply
    assert apply({"c": " US "}) == {"Country": "USA"}
    assert apply({"c": "   "}) == {"Country": "CAN"}


def test_lookup_paths_are_read_as_lookups() -> None:
    compiled = compile_map(
        {
            "AssociatedPartyNumber": "parentcustomerid.accountnumber",
            "Currency": fm(**{"from": "transactioncurrencyid.isocurrencycode", "default": "USD"}),
            "LastName": "lastname",
        }
    )
    assert compiled.columns == ("lastname",)
    assert compiled.lookups == (
        "parentcustomerid.accountnumber",
        "transactioncurrencyid.isocurrencycode",
    )


def test_constants_come_last_and_an_explicit_mapping_keeps_its_place() -> None:
    compiled = compile_map({"LastName": "lastname"}, {"dataAreaId": "usmf"})
    assert list(compiled.apply({"lastname": "Lee"}).items()) == [
        ("LastName", "Lee"),
        ("dataAreaId", "usmf"),
    ]


def test_names_reach_the_generated_code_only_as_literals() -> None:
    odd = "x'] or __import__('os').getcwd() or r['"
    compiled = compile_map({odd: odd, "d": fm(**{"from": odd, "default": "}"})})
    assert compiled.apply({odd: "value"}) == {odd: "value", "d": "value"}
    assert compiled.apply({odd: None}) == {odd: None, "d": "}"}


EVERY_KIND: dict[str, Any] = {
    "Copied": "lastname",
    "Looked": "parentcustomerid.accountnumber",
    "Given": fm(default="10"),
    "Or": fm(**{"from": "country", "default": "USA"}),
    "Mapped": fm(**{"from": "gendercode", "value_map": {"1": "Male", "2": "Female"}}),
    "Otherwise": fm(**{"from": "gendercode", "value_map": {"1": "M"}, "else": "X"}),
    "Joined": fm(fn="concat", args=["firstname", "lastname"]),
    "Upper": fm(**{"fn": "upper", "from": "country", "default": "-"}),
    "Flag": "donotemail",
}
SOURCES: list[dict[str, Any]] = [
    {
        "lastname": "Lee",
        "parentcustomerid.accountnumber": "A-1",
        "country": "us",
        "gendercode": 1,
        "firstname": "Ann",
        "donotemail": True,
    },
    {
        "lastname": None,
        "parentcustomerid.accountnumber": None,
        "country": "",
        "gendercode": 7,
        "firstname": "",
        "donotemail": None,
    },
]


@pytest.mark.parametrize("source", SOURCES)
def test_over_rows_maps_a_row_as_apply_maps_its_record(source: dict[str, Any]) -> None:
    """The row form (the engine's hot path) gives the record's values, in ``fields`` order,
    whatever order the row's values come in."""
    compiled = compile_map(EVERY_KIND, {"dataAreaId": "usmf"})
    names = sorted(source, reverse=True)
    row = tuple(source[n] for n in names)
    mapped = compiled.apply(source)
    assert compiled.fields == tuple(mapped)
    assert compiled.over_rows(names)(row) == tuple(mapped.values())


def test_over_rows_of_one_field_is_a_tuple() -> None:
    assert compile_map({"X": "x"}).over_rows(["y", "x"])((1, 2)) == (2,)
