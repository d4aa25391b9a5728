"""The editing forms of the admin center, both ways: what a form shows for a field's
transform (`FieldForm.of`), and the `ConfigChange` a posted form asks for (`change_of`)."""

from __future__ import annotations

__all__ = ["FORM_FIELDS", "FieldForm", "Posted", "change_of", "recipients_of"]

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import pydantic

from p2c._errors import ConfigError
from p2c.config import ConfigChange, ConfigEditor
from p2c.service import Notify, Schedule
from p2c.templates import Copy, Default, Fn, ValueMap

# Form fields that are not the edit's (the page's own).
FORM_FIELDS = {"csrf_token", "digest", "proposal", "next"}
EXTRA_ROWS = 3  # empty value-map rows under the ones a map has


@dataclass(frozen=True)
class Posted:
    """A posted form: each field's values, in order."""

    values: dict[str, list[str]]

    @classmethod
    def of(cls, items: list[tuple[str, Any]]) -> Posted:
        values: dict[str, list[str]] = {}
        for key, value in items:
            if isinstance(value, str):
                values.setdefault(key, []).append(value)
        return cls(values)

    def get(self, key: str, default: str = "") -> str:
        return (self.values.get(key) or [default])[0].strip()

    def all(self, key: str) -> list[str]:
        return [v.strip() for v in self.values.get(key, [])]

    def items(self) -> list[tuple[str, str]]:
        """The edit's fields (not the page's), to carry in a confirmation form."""
        return [(k, v) for k, vs in self.values.items() if k not in FORM_FIELDS for v in vs]


@dataclass
class FieldForm:
    """What the field form shows: the transform's kind and parts."""

    field: str
    kind: str = "copy"  # copy, default, value_map, fn
    source: str = ""
    default: str = ""
    rows: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    has_else: bool = False
    otherwise: str = ""
    fn: str = "upper"
    args: str = ""
    separator: str = " "
    length: str = ""

    @classmethod
    def of(cls, name: str, transform: Any) -> FieldForm:
        """The form of a destination field mapped by ``transform`` (None: a new field)."""
        form = cls(name)
        if isinstance(transform, Copy):
            form.source = transform.source
        elif isinstance(transform, Default):
            form.kind, form.source = "default", transform.source or ""
            form.default = _shown(transform.default)
        elif isinstance(transform, ValueMap | Fn):
            form.kind = "value_map" if isinstance(transform, ValueMap) else "fn"
            form.source = transform.source or ""
            form.default = _shown(transform.default)
            form.rows = [(k, _shown(v)) for k, v in (transform.value_map or {}).items()]
            form.has_else = transform.has_else
            form.otherwise = _shown(transform.otherwise) if transform.has_else else ""
            if isinstance(transform, Fn):
                form.fn, form.args = transform.fn, ", ".join(transform.args or [])
                form.separator = transform.separator
                form.length = str(transform.length or "")
        form.rows += [("", "")] * EXTRA_ROWS
        return form


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _transform(posted: Posted) -> Any:
    """The transform a field form describes, in its p2c.yaml form."""
    kind, source, default = posted.get("kind"), posted.get("source"), posted.get("default")
    if kind == "copy":
        return source
    if kind == "default":
        return {"from": source, "default": default} if source else {"default": default}
    value: dict[str, Any] = {}
    if kind == "fn":
        value["fn"] = posted.get("fn")
        if value["fn"] == "concat":
            value["args"] = [a.strip() for a in posted.get("args").split(",") if a.strip()]
            value["separator"] = posted.values.get("separator", [" "])[0]
        else:
            value["from"] = source
        if value["fn"] == "truncate":
            value["length"] = int(posted.get("length")) if posted.get("length").isdigit() else 0
    else:
        value["from"] = source
    rows = zip(posted.all("map_key"), posted.all("map_value"), strict=False)
    table = {key: value for key, value in rows if key or value}
    if table or kind == "value_map":
        value["value_map"] = table
    if posted.get("has_else") and "value_map" in value:
        value["else"] = posted.get("else")
    if default:
        value["default"] = default
    return value


_ADDRESSES = re.compile(r"[\s,;]+")


def recipients_of(posted: Posted, webhook: str | None = None) -> Notify | None:
    """The notification recipients of the scheduling form (with the project's ``webhook``,
    which the form does not show); None: nobody.

    Raises:
        ConfigError: an address or an event is not one.
    """
    email = [a for a in _ADDRESSES.split(posted.get("email")) if a]
    if not email and not webhook:
        return None
    try:
        return Notify.model_validate({"on": posted.all("on"), "email": email, "webhook": webhook})
    except pydantic.ValidationError as error:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
        raise ConfigError(f"Notification recipients: {problems}.", fix="correct them") from None


def _schedule_of(posted: Posted) -> Schedule | None:
    recurrence = posted.get("recurrence")
    if recurrence == "none":
        return None
    given: dict[str, Any] = {"paused": bool(posted.get("paused"))}
    if recurrence == "cron":
        given.update(cron=posted.get("cron"), timezone=posted.get("timezone") or "UTC")
    else:
        given["every"] = posted.get("every")
    try:
        return Schedule.model_validate(given)
    except pydantic.ValidationError as error:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
        raise ConfigError(f"Recurrence: {problems}.", fix="correct the recurrence") from None


def change_of(
    editor: ConfigEditor, project: str | None, posted: Posted, webhook: str | None = None
) -> ConfigChange:
    """The change a posted form asks for (its ``op``: map, filter, schedule, template, new);
    ``webhook``: the project's, which the scheduling form keeps.

    Raises:
        ConfigError: the form itself is not an edit (an unknown op, a schedule that is
            none); what the edit makes of p2c.yaml is the change's ``error``.
    """
    op = posted.get("op")
    leg = posted.get("leg") or None
    if op == "new":
        if not posted.get("name"):
            raise ConfigError("A new project needs a name.", fix="give the project a name")
        business_unit = posted.get("business_unit") or None
        return editor.add_project(
            posted.get("name"),
            posted.get("template"),
            posted.get("connection_set"),
            business_unit,
            posted.get("alias") or None,
        )
    if project is None:
        raise ConfigError(f"Unknown edit {op!r}.", fix="reload the page")
    if op == "map":
        task, name, kind = posted.get("task"), posted.get("field"), posted.get("kind")
        if kind == "remove":
            return editor.remove_mapping(project, task, name, leg)
        if kind == "reset":
            return editor.reset_mapping(project, task, name, leg)
        return editor.set_mapping(project, task, name, _transform(posted), leg)
    if op == "filter":
        text = None if posted.get("template_filter") else posted.values.get("filter", [""])[0]
        return editor.set_filter(project, posted.get("task"), text, leg)
    if op == "schedule":
        first = editor.set_schedule(project, _schedule_of(posted))
        second = editor.then(first).set_notify(project, recipients_of(posted, webhook))
        return ConfigChange(
            second.root,
            second.path,
            f"{project}: recurrence and notification recipients",
            second.before,
            second.after,
            first.error or second.error,
        )
    if op == "template":
        return editor.save_as_template(project, posted.get("template_name"))
    raise ConfigError(f"Unknown edit {op!r}.", fix="reload the page")
