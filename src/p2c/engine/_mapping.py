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
from typing import Any

from p2c.templates import FieldMap, Transform

Record = dict[str, Any]


@dataclass(frozen=True)
class CompiledMap:
    """A leg's map: what to read from the source, and the function that maps a record."""

    columns: tuple[str, ...]
    lookups: tuple[str, ...]
    apply: Callable[[Mapping[str, Any]], Record]


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _map_key(value: Any) -> str:
    if _empty(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _helper(spec: FieldMap) -> Callable[[Mapping[str, Any]], Any]:
    """One transform as a function of the source record: fn, then value map, then default."""
    source, default, separator, length = spec.source, spec.default, spec.separator, spec.length
    args = tuple(spec.args or ())
    value_map = {str(k): v for k, v in (spec.value_map or {}).items()}
    fn = spec.fn

    def value_of(record: Mapping[str, Any]) -> Any:
        if fn == "concat":
            value: Any = separator.join(str(record[a]) for a in args if not _empty(record[a]))
        else:
            value = record[source] if source else None
            if isinstance(value, str):
                if fn == "upper":
                    value = value.upper()
                elif fn == "lower":
                    value = value.lower()
                elif fn == "trim":
                    value = value.strip()
                elif fn == "truncate":
                    value = value[:length]
        if value_map:
            key = _map_key(value)
            value = value_map.get(key, None if key == "" else value)
        return default if _empty(value) else value

    return value_of


def _value_mapped(source: str, spec: FieldMap) -> Callable[[Mapping[str, Any]], Any]:
    """A value map without a function: the common case of ``_helper``, with less work."""
    table = {str(k): v for k, v in (spec.value_map or {}).items()}
    blank, default = table.get(""), spec.default

    def value_of(record: Mapping[str, Any]) -> Any:
        value = record[source]
        if value is None or value == "":
            value = blank
        else:
            value = table.get(value if value.__class__ is str else _map_key(value), value)
        return default if value is None or value == "" else value

    return value_of


def compile_map(
    mapping: Mapping[str, Transform], constants: Mapping[str, Any] | None = None
) -> CompiledMap:
    """Compile a leg's map (destination field -> transform), plus fields with the same
    value in every record (the legal entity of a single organization mapping) last."""
    namespace: dict[str, Any] = {}
    items: list[str] = []
    sources: list[str] = []
    for index, (destination, spec) in enumerate(mapping.items()):
        if isinstance(spec, str):
            sources.append(spec)
            items.append(f"{destination!r}: r[{spec!r}]")
            continue
        sources.extend(spec.source_fields())
        if spec.source is None and spec.fn is None and spec.value_map is None:
            namespace[f"c{index}"] = spec.default
            items.append(f"{destination!r}: c{index}")
        elif spec.source is not None and spec.fn is None and not spec.value_map:
            namespace[f"c{index}"] = spec.default
            empty = f"(v := r[{spec.source!r}]) is None or v == ''"
            items.append(f"{destination!r}: (c{index} if {empty} else v)")
        elif spec.source is not None and spec.fn is None:
            namespace[f"h{index}"] = _value_mapped(spec.source, spec)
            items.append(f"{destination!r}: h{index}(r)")
        else:
            namespace[f"h{index}"] = _helper(spec)
            items.append(f"{destination!r}: h{index}(r)")
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
