"""Templates as a typed tree that mirrors their YAML (DESIGN.md §4.2).

A template has tasks; a task has one mapping leg (direct) or two ("Source > CDS" and
"CDS > Destination"). A leg reads a source entity through a filter and writes a destination
entity by its key, with a map of destination field -> transform, one class per kind:

- ``CustomerAccount: msdynce_contactnumber`` is a `Copy` of a source field or lookup path;
- ``{default: "10"}`` is a `Default` constant; ``{from: x, default: y}`` falls back to ``y``
  when ``x`` is empty;
- ``{from: x, value_map: {"": USA, Sweden: SWE}, else: XXX}`` is a `ValueMap`, the blank key
  for empty values, ``else`` for values the map does not name (without it they pass through);
- ``{fn: concat|upper|lower|trim|truncate, ...}`` is an `Fn`, a named function.

YAML has no ``type:`` key for transforms: the kind is recognised from the keys present
(`transform_kind`), and each kind names what does not belong to it.
"""

from __future__ import annotations

__all__ = [
    "Copy",
    "Default",
    "Destination",
    "Fn",
    "Leg",
    "Source",
    "System",
    "Task",
    "Template",
    "Transform",
    "ValueMap",
    "map_key",
    "parse_transform",
    "transform_kind",
]

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    TypeAdapter,
    model_serializer,
    model_validator,
)

System = Literal["sales", "cds", "finops"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# Keys that belong to one kind only: named when they turn up in another, instead of pydantic's
# "extra inputs are not permitted".
_BELONGS_TO = {
    "args": "fn: concat",
    "separator": "fn: concat",
    "length": "fn: truncate",
    "else": "value_map",
}


def map_key(value: Any) -> str:
    """A value-map key as text: YAML reads ``1: Male`` as the number 1 and ``true: "No"`` as
    a boolean, and both mean the text a source value is compared as (``"1"``, ``"true"``);
    null is the blank key."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _text_keys(table: Any) -> Any:
    """The value map with its keys as text; two keys that read as the same text contradict."""
    if not isinstance(table, dict):
        return table
    keys: dict[str, Any] = {}
    for key in table:
        text = map_key(key)
        if text in keys:
            raise ValueError(
                f"value_map names {text!r} twice ({keys[text]!r} and {key!r} read as the same "
                "text): remove one"
            )
        keys[text] = key
    return {map_key(key): value for key, value in table.items()}


class _Transform(_Model):
    """What every kind of transform has: the source fields it reads."""

    kind: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _no_foreign_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            own = {f.alias or name for name, f in cls.model_fields.items()} | set(cls.model_fields)
            for key in data:
                if key in _BELONGS_TO and key not in own:
                    raise ValueError(
                        f"{key} goes with {_BELONGS_TO[key]}, not with {cls.kind}: remove {key}"
                        f" (or add {_BELONGS_TO[key]})"
                    )
        return data

    def source_fields(self) -> list[str]:
        """The source fields and lookup paths the transform reads, in order."""
        raise NotImplementedError


class _Mapped(_Transform):
    """What the kinds with a value map share: ``else``, written back only when given (so
    that a map without it reads, and digests, as it did before ``else`` existed)."""

    otherwise: Any = Field(None, alias="else")

    @property
    def has_else(self) -> bool:
        """Whether ``else`` is given (``else: ""`` or ``else: null`` leave the field empty)."""
        return "otherwise" in self.model_fields_set

    @model_serializer(mode="wrap")
    def _else_when_given(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and not self.has_else:
            data.pop("else", None)
            data.pop("otherwise", None)
        return data


class Copy(_Transform):
    """``Field: column``: the source field or lookup path as it is (a plain string in YAML)."""

    kind: ClassVar[str] = "Copy"
    source: str = Field(alias="from")

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        return {"from": data} if isinstance(data, str) else data

    @model_serializer(mode="plain")
    def _as_text(self) -> str:
        # Written back as it is written: a plain string.
        return self.source

    def source_fields(self) -> list[str]:
        return [self.source]


class Default(_Transform):
    """Data Integrator's Default: ``{default: X}`` is the constant X; ``{from: column,
    default: X}`` is the column, or X when it is empty (null or "")."""

    kind: ClassVar[str] = "Default"
    source: str | None = Field(None, alias="from")
    default: Any = None

    @model_validator(mode="after")
    def _check(self) -> Default:
        if self.source is None and self.default is None:
            raise ValueError("default needs a value, or give from: <field>")
        return self

    def source_fields(self) -> list[str]:
        return [self.source] if self.source else []


class ValueMap(_Mapped):
    """Data Integrator's ValueMap: the column's value looked up in ``value_map`` (the blank key
    is the value for an empty source; a value the map does not name becomes ``else`` when it
    is given, and passes through unchanged when not), then ``default`` when the result is
    empty. Keys are text: ``1: Male`` is the key ``"1"``."""

    kind: ClassVar[str] = "ValueMap"
    source: str = Field(alias="from")
    value_map: dict[str, Any]
    default: Any = None

    @model_validator(mode="before")
    @classmethod
    def _needs_source(cls, data: Any) -> Any:
        if isinstance(data, dict) and "from" not in data and "source" not in data:
            raise ValueError("value_map needs from: <field>")
        if isinstance(data, dict) and "value_map" in data:
            data = {**data, "value_map": _text_keys(data["value_map"])}
        return data

    def source_fields(self) -> list[str]:
        return [self.source]


FunctionName = Literal["concat", "upper", "lower", "trim", "truncate"]


class Fn(_Mapped):
    """Data Integrator's Fn, a named function, then ``value_map`` and ``default`` as in
    `ValueMap`: ``concat`` joins the non-empty ``args`` with ``separator``; ``upper``,
    ``lower``, ``trim`` and ``truncate`` (to ``length``) change the text of ``from``."""

    kind: ClassVar[str] = "Fn"
    fn: FunctionName
    source: str | None = Field(None, alias="from")
    args: list[str] | None = None
    separator: str = " "
    length: int | None = Field(None, ge=1)
    value_map: dict[str, Any] | None = None
    default: Any = None

    @model_validator(mode="before")
    @classmethod
    def _map_keys_as_text(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("value_map"), dict):
            data = {**data, "value_map": _text_keys(data["value_map"])}
        return data

    @model_validator(mode="after")
    def _check(self) -> Fn:
        given = self.model_fields_set
        if "otherwise" in given and self.value_map is None:
            raise ValueError("else goes with value_map: remove else (or add value_map)")
        if self.fn == "concat":
            if not self.args:
                raise ValueError("fn concat needs args: [field, field, ...]")
            if self.source is not None:
                raise ValueError(
                    "fn concat joins args and takes no from; put the field in args and remove from"
                )
        else:
            if self.source is None:
                raise ValueError(f"fn {self.fn} needs from: <field>")
            if self.args is not None:
                raise ValueError(f"fn {self.fn} takes from: <field>, not args: remove args")
            if "separator" in given:
                raise ValueError("separator goes with fn: concat: remove separator")
        if self.fn == "truncate" and self.length is None:
            raise ValueError("fn truncate needs length")
        if self.fn != "truncate" and self.length is not None:
            raise ValueError("length goes with fn: truncate: remove length")
        return self

    def source_fields(self) -> list[str]:
        return ([self.source] if self.source else []) + list(self.args or [])


def transform_kind(value: Any) -> str | None:
    """The kind of a transform as written: a string is a `Copy`; a mapping with ``fn`` an
    `Fn`, else with ``value_map`` a `ValueMap`, else with ``from`` or ``default`` a
    `Default`. None when it is none of them."""
    if isinstance(value, str):
        return Copy.kind
    if isinstance(value, _Transform):
        return value.kind
    if isinstance(value, dict):
        if "fn" in value:
            return Fn.kind
        if "value_map" in value:
            return ValueMap.kind
        if value.keys() & {"from", "source", "default"}:
            return Default.kind
    return None


# One destination field's transform: the kind is picked by `transform_kind`, so an error
# names the keys of that kind only, not of every kind that did not fit.
Transform = Annotated[
    Annotated[Copy, Tag(Copy.kind)]
    | Annotated[Default, Tag(Default.kind)]
    | Annotated[ValueMap, Tag(ValueMap.kind)]
    | Annotated[Fn, Tag(Fn.kind)],
    Discriminator(
        transform_kind,
        custom_error_type="transform",
        custom_error_message=(
            "a transform is a source field, or a mapping with from, default, value_map or fn"
        ),
    ),
]

_TRANSFORM: TypeAdapter[Transform] = TypeAdapter(Transform)


def parse_transform(value: Any) -> Transform:
    """A transform from its YAML form (``"column"``, ``{default: X}``, ``{fn: ...}``).

    Raises:
        pydantic.ValidationError: the value is no transform, or its keys contradict.
    """
    return _TRANSFORM.validate_python(value)


class Source(_Model):
    system: System
    entity: str
    filter: str | None = None


class Destination(_Model):
    system: System
    entity: str
    key: list[str]


class Leg(_Model):
    """One mapping: source entity -> destination entity."""

    name: str = ""
    source: Source
    destination: Destination
    map: dict[str, Transform]


class Task(_Model):
    """A task: one leg, or the two legs through CDS. ``source``/``destination``/``map`` on the
    task itself are the shorthand for a single leg."""

    name: str
    legs: list[Leg] = []
    source: Source | None = None
    destination: Destination | None = None
    map: dict[str, Transform] | None = None

    @model_validator(mode="after")
    def _single_leg(self) -> Task:
        shorthand = self.source is not None or self.destination is not None or self.map is not None
        if shorthand:
            if self.legs:
                raise ValueError("give either legs or source/destination/map, not both")
            if self.source is None or self.destination is None or self.map is None:
                raise ValueError("a task needs source, destination and map")
            self.legs = [
                Leg(
                    name="Source > Destination",
                    source=self.source,
                    destination=self.destination,
                    map=self.map,
                )
            ]
            self.source = self.destination = None
            self.map = None
        if not self.legs:
            raise ValueError("a task needs source, destination and map, or legs")
        return self


class Template(_Model):
    name: str
    description: str = ""
    generation: Literal["direct", "via-cds"]
    requires: list[str] = []
    tasks: list[Task]
