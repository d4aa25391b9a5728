"""Field mappings compiled once per task leg into one fast function.

The generated function is a single dict display: plain copies become ``r['column']``,
constants are bound once, a default over a column is an inline conditional, and only value
maps and functions call a helper. Names from the template reach the generated code only as
``repr`` literals.
"""

from __future__ import annotations

__all__ = ["CompiledMap", "compile_map"]

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, assert_never

from p2c.templates import Copy, Default, Fn, Transform, ValueMap, map_key

Record = dict[str, Any]


@dataclass(frozen=True)
class CompiledMap:
    """A leg's map: what to read from the source, and the function that maps a record."""

    columns: tuple[str, ...]
    lookups: tuple[str, ...]
    apply: Callable[[Mapping[str, Any]], Record]


def _empty(value: Any) -> bool:
    return value is None or value == ""


_TEXT: dict[str, Callable[[str, Fn], str]] = {
    "upper": lambda text, _: text.upper(),
    "lower": lambda text, _: text.lower(),
    "trim": lambda text, _: text.strip(),
    "truncate": lambda text, spec: text[: spec.length],
}


def _function(spec: Fn) -> Callable[[Mapping[str, Any]], Any]:
    """A named function as a function of the source record, then value map (and its
    ``else``), then default."""
    default, separator, args = spec.default, spec.separator, tuple(spec.args or ())
    value_map = {str(k): v for k, v in (spec.value_map or {}).items()}
    has_else, otherwise = spec.has_else, spec.otherwise
    concat = spec.fn == "concat"
    source = spec.source or ""
    text = _TEXT.get(spec.fn)

    def value_of(record: Mapping[str, Any]) -> Any:
        if concat:
            value: Any = separator.join(str(record[a]) for a in args if not _empty(record[a]))
        else:
            value = record[source]
            # Only text is changed: a number or a boolean passes as it is.
            if text is not None and isinstance(value, str):
                value = text(value, spec)
        if value_map:
            key = map_key(value)
            unmatched = None if key == "" else otherwise if has_else else value
            value = value_map.get(key, unmatched)
        return default if _empty(value) else value

    return value_of


def _value_mapped(spec: ValueMap) -> Callable[[Mapping[str, Any]], Any]:
    """A value map: the common case of `_function`'s tail, with less work per value."""
    source = spec.source
    table = {str(k): v for k, v in spec.value_map.items()}
    blank, default = table.get(""), spec.default
    passes, otherwise = not spec.has_else, spec.otherwise

    def value_of(record: Mapping[str, Any]) -> Any:
        value = record[source]
        if value is None or value == "":
            value = blank
        else:
            unmatched = value if passes else otherwise
            value = table.get(value if value.__class__ is str else map_key(value), unmatched)
        return default if value is None or value == "" else value

    return value_of


def _expression(spec: Transform, index: int, namespace: dict[str, Any]) -> str:
    """The generated expression of one transform; what it needs goes into ``namespace``."""
    if isinstance(spec, Copy):
        return f"r[{spec.source!r}]"
    if isinstance(spec, Default):
        namespace[f"c{index}"] = spec.default
        if spec.source is None:
            return f"c{index}"
        return f"(c{index} if (v := r[{spec.source!r}]) is None or v == '' else v)"
    if isinstance(spec, ValueMap):
        namespace[f"h{index}"] = _value_mapped(spec)
        return f"h{index}(r)"
    if isinstance(spec, Fn):
        namespace[f"h{index}"] = _function(spec)
        return f"h{index}(r)"
    assert_never(spec)


def compile_map(
    mapping: Mapping[str, Transform | str], constants: Mapping[str, Any] | None = None
) -> CompiledMap:
    """Compile a leg's map (destination field -> transform; a plain string is a `Copy`),
    plus fields with the same value in every record (the legal entity of a single
    organization mapping) last."""
    namespace: dict[str, Any] = {}
    items: list[str] = []
    sources: list[str] = []
    for index, (destination, spec) in enumerate(mapping.items()):
        transform = Copy.model_validate(spec) if isinstance(spec, str) else spec
        sources.extend(transform.source_fields())
        items.append(f"{destination!r}: {_expression(transform, index, namespace)}")
    for index, (destination, value) in enumerate((constants or {}).items(), len(mapping)):
        namespace[f"c{index}"] = value
        items.append(f"{destination!r}: c{index}")
    code = "def mapped(r):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(code, "<p2c mapping>", "exec"), namespace)
    unique = list(dict.fromkeys(sources))
    return CompiledMap(
        columns=tuple(s for s in unique if "." not in s),
        lookups=tuple(s for s in unique if "." in s),
        apply=namespace["mapped"],
    )
