"""Field mappings compiled once per task leg into one fast function.

The generated function is a single dict display (or, over a page read as rows, a tuple
display): plain copies become ``r['column']`` (``r[3]`` over rows), constants are bound
once, a default over a column is an inline conditional, and only value maps and functions
call a helper, with the source values as arguments. Names from the template reach the
generated code only as ``repr`` literals.
"""

from __future__ import annotations

__all__ = ["CompiledMap", "compile_map"]

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

from p2c.templates import Copy, Default, Fn, Transform, ValueMap, map_key

Record = dict[str, Any]
Row = tuple[Any, ...]


@dataclass(frozen=True)
class CompiledMap:
    """A leg's map: what to read from the source, and the function that maps a record.

    Attributes:
        columns: Source columns to read.
        lookups: Source lookup paths to read.
        apply: Maps a source record to the destination record.
        fields: The destination fields, in the order ``apply`` gives them.
    """

    columns: tuple[str, ...]
    lookups: tuple[str, ...]
    apply: Callable[[Mapping[str, Any]], Record]
    fields: tuple[str, ...] = ()
    transforms: tuple[tuple[str, Transform], ...] = field(default=(), repr=False)
    constants: tuple[tuple[str, Any], ...] = field(default=(), repr=False)

    def over_rows(self, names: Sequence[str]) -> Callable[[Row], Row]:
        """The same map over a source row whose values are in the order of ``names``: the
        destination values as a tuple, in the order of ``fields``."""
        position = {name: index for index, name in enumerate(names)}
        return _compile(self.transforms, self.constants, lambda name: f"r[{position[name]}]")[0]


def _empty(value: Any) -> bool:
    return value is None or value == ""


_TEXT: dict[str, Callable[[str, Fn], str]] = {
    "upper": lambda text, _: text.upper(),
    "lower": lambda text, _: text.lower(),
    "trim": lambda text, _: text.strip(),
    "truncate": lambda text, spec: text[: spec.length],
}


def _function(spec: Fn) -> Callable[..., Any]:
    """A named function of the source values (``concat``: its ``args``; else ``source``),
    then value map (and its ``else``), then default."""
    default, separator = spec.default, spec.separator
    value_map = {str(k): v for k, v in (spec.value_map or {}).items()}
    has_else, otherwise = spec.has_else, spec.otherwise
    concat = spec.fn == "concat"
    text = _TEXT.get(spec.fn)

    def value_of(*values: Any) -> Any:
        if concat:
            value: Any = separator.join(str(v) for v in values if not _empty(v))
        else:
            value = values[0]
            # Only text is changed: a number or a boolean passes as it is.
            if text is not None and isinstance(value, str):
                value = text(value, spec)
        if value_map:
            key = map_key(value)
            unmatched = None if key == "" else otherwise if has_else else value
            value = value_map.get(key, unmatched)
        return default if _empty(value) else value

    return value_of


def _value_mapped(spec: ValueMap) -> Callable[[Any], Any]:
    """A value map of the source value: the common case of `_function`'s tail, with less
    work per value."""
    table = {str(k): v for k, v in spec.value_map.items()}
    blank, default = table.get(""), spec.default
    passes, otherwise = not spec.has_else, spec.otherwise

    def value_of(value: Any) -> Any:
        if value is None or value == "":
            value = blank
        else:
            unmatched = value if passes else otherwise
            value = table.get(value if value.__class__ is str else map_key(value), unmatched)
        return default if value is None or value == "" else value

    return value_of


def _expression(
    spec: Transform, index: int, namespace: dict[str, Any], ref: Callable[[str], str]
) -> str:
    """The generated expression of one transform; what it needs goes into ``namespace``;
    ``ref`` is the expression of a source value."""
    if isinstance(spec, Copy):
        return ref(spec.source)
    if isinstance(spec, Default):
        namespace[f"c{index}"] = spec.default
        if spec.source is None:
            return f"c{index}"
        return f"(c{index} if (v := {ref(spec.source)}) is None or v == '' else v)"
    if isinstance(spec, ValueMap):
        namespace[f"h{index}"] = _value_mapped(spec)
        return f"h{index}({ref(spec.source)})"
    if isinstance(spec, Fn):
        namespace[f"h{index}"] = _function(spec)
        sources = spec.args if spec.fn == "concat" else [spec.source or ""]
        return f"h{index}({', '.join(ref(s) for s in sources or ())})"
    assert_never(spec)


def _compile(
    transforms: Sequence[tuple[str, Transform]],
    constants: Sequence[tuple[str, Any]],
    ref: Callable[[str], str] | None = None,
) -> tuple[Callable[[Any], Any], tuple[str, ...]]:
    """The mapping function and its destination fields: over records (a dict display,
    ``ref`` None) or over rows (a tuple display, ``ref`` names a value's position)."""
    namespace: dict[str, Any] = {}
    values: list[str] = []
    by_name = ref or (lambda name: f"r[{name!r}]")
    for index, (_, spec) in enumerate(transforms):
        values.append(_expression(spec, index, namespace, by_name))
    for index, (_, value) in enumerate(constants, len(transforms)):
        namespace[f"c{index}"] = value
        values.append(f"c{index}")
    fields = tuple(name for name, _ in [*transforms, *constants])
    if ref is None:
        display = "{" + ", ".join(f"{n!r}: {v}" for n, v in zip(fields, values, strict=True))
        code = f"def mapped(r):\n    return {display}}}\n"
    else:
        code = (
            f"def mapped(r):\n    return ({', '.join(values)}{',' if len(values) == 1 else ''})\n"
        )
    exec(compile(code, "<p2c mapping>", "exec"), namespace)
    return namespace["mapped"], fields


def compile_map(
    mapping: Mapping[str, Transform | str], constants: Mapping[str, Any] | None = None
) -> CompiledMap:
    """Compile a leg's map (destination field -> transform; a plain string is a `Copy`),
    plus fields with the same value in every record (the legal entity of a single
    organization mapping) last."""
    transforms: list[tuple[str, Transform]] = []
    sources: list[str] = []
    for destination, spec in mapping.items():
        transform = Copy.model_validate(spec) if isinstance(spec, str) else spec
        sources.extend(transform.source_fields())
        transforms.append((destination, transform))
    fixed = tuple((constants or {}).items())
    apply, fields = _compile(transforms, fixed)
    unique = list(dict.fromkeys(sources))
    return CompiledMap(
        columns=tuple(s for s in unique if "." not in s),
        lookups=tuple(s for s in unique if "." in s),
        apply=apply,
        fields=fields,
        transforms=tuple(transforms),
        constants=fixed,
    )
