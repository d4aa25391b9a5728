"""Editing p2c.yaml as the admin center and ``p2c projects add`` / ``p2c mapping`` do: each
edit is made on the file's text with ruamel.yaml's round trip (comments, quotes and layout
kept), checked exactly as p2c.yaml is checked when a workspace opens, and returned as a
`ConfigChange` to look at (its diff) and save; nothing is written before ``save()``."""

from __future__ import annotations

__all__ = ["ConfigEditor", "transform_yaml"]

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from p2c._errors import ConfigError, NotFoundError
from p2c.config._change import ConfigChange, ConfigChanged, check_text, read_text
from p2c.config._document import (
    YamlDocument,
    delete_entry,
    digest_of,
    flow,
    keep_above,
    new_map,
    replace_value,
)
from p2c.config._saved import template_change
from p2c.service import Notify, Schedule
from p2c.templates import BUILTIN, Fn, Leg, TemplateCatalog, Transform, map_key

# The order of a transform's keys as p2c.yaml and the built-in templates write them.
_KEY_ORDER = ("fn", "from", "args", "separator", "length", "value_map", "else", "default")


def transform_yaml(transform: Transform) -> Any:
    """A transform as p2c.yaml writes it: a plain string for a copy, else a mapping of the
    keys it was given (``{from: x, value_map: {...}, else: y}``)."""
    data = transform.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if isinstance(data, str):
        return data
    if getattr(transform, "has_else", False):
        data["else"] = getattr(transform, "otherwise", None)
    if (
        isinstance(transform, Fn)
        and transform.fn == "concat"
        and "separator" in (transform.model_fields_set)
    ):
        data["separator"] = transform.separator
    return {key: data[key] for key in _KEY_ORDER if key in data}


def _same_key(old: Any, new: Any) -> bool:
    return bool(old == new or map_key(old) == new)


def _merge(container: CommentedMap, key: Any, new: Any) -> None:
    """Set ``container[key]`` to ``new`` changing as little as it can: a mapping keeps the
    entries (their comments, quotes and style) whose values stay, a value equal to the old
    one is left as it is written."""
    old = container.get(key)
    if isinstance(old, CommentedMap) and isinstance(new, dict):
        for name in [n for n in old if not any(_same_key(n, k) for k in new)]:
            delete_entry(old, name)
        for name, value in new.items():
            present = next((n for n in old if _same_key(n, name)), None)
            if present is None:
                old[name] = flow(value)
            else:
                _merge(old, present, value)
        return
    if key in container and _equal(old, new):
        return
    replace_value(container, key, flow(new))


def _equal(old: Any, new: Any) -> bool:
    """Whether the value as written is ``new`` (so it can stay as it is written)."""
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(_equal(a, b) for a, b in zip(old, new, strict=True))
    if isinstance(old, dict) or isinstance(new, dict | list) or isinstance(old, list):
        return False
    kinds = (bool, str)
    return all(isinstance(old, k) == isinstance(new, k) for k in kinds) and bool(old == new)


class ConfigEditor:
    """A workspace's p2c.yaml as read, to make edits from. Each edit starts from the text as
    read and returns a `ConfigChange`; ``save()`` writes it unless the checks refuse it or the
    file changed in between.

    Args:
        root: The workspace folder.
        text: p2c.yaml's text (`open` reads it).
        catalog: The templates (default: the built-in ones and ``root/templates``).
    """

    def __init__(
        self,
        root: Path,
        text: str,
        catalog: TemplateCatalog | None = None,
        *,
        read: str | None = None,
    ) -> None:
        from p2c.workspace import CONFIG_FILE, TEMPLATES_FOLDER  # it imports this package

        self.root = root
        self.path = root / CONFIG_FILE
        self.text = text
        # The text as read from the file, when ``text`` is an edit of it (`then`).
        self.read = text if read is None else read
        self.catalog = catalog or BUILTIN.extended(root / TEMPLATES_FOLDER)

    def then(self, change: ConfigChange) -> ConfigEditor:
        """An editor on the text of ``change``, whose changes are of the file as read: two
        edits shown as one diff and saved at once (a schedule and its recipients)."""
        return ConfigEditor(self.root, change.after, self.catalog, read=self.read)

    @classmethod
    def open(cls, root: Path, expect: str | None = None) -> ConfigEditor:
        """Read p2c.yaml of the workspace at ``root``.

        Args:
            root: The workspace folder.
            expect: The digest of the text an edit was shown against (`ConfigChange.digest`):
                when the file is no longer that text, ConfigChanged.

        Raises:
            NotFoundError: no p2c.yaml.
            ConfigChanged: the file is not the text expected.
        """
        from p2c.workspace import CONFIG_FILE  # it imports this package

        text = read_text(root / CONFIG_FILE)
        if text is None:
            raise NotFoundError(
                f"No workspace at {root} (no {CONFIG_FILE}).",
                fix="create one with `p2c init DIR`",
            )
        if expect is not None and digest_of(text) != expect:
            raise ConfigChanged(
                f"{CONFIG_FILE} changed since the edit was shown (another edit, or someone "
                "editing the file); nothing was written.",
                fix="look at the project again and make the edit again",
            )
        return cls(root, text)

    @property
    def digest(self) -> str:
        """The SHA-256 of the file's text as read."""
        return digest_of(self.read)

    # -- making a change ----------------------------------------------------------------

    def _change(self, summary: str, edit: Callable[[CommentedMap], None]) -> ConfigChange:
        document = YamlDocument(self.text, self.path.name)
        edit(document.data)
        after = document.dump()
        error: ConfigError | None = None
        try:
            check_text(after, self.path, self.root, self.catalog)
        except ConfigError as refused:
            error = refused
        return ConfigChange(self.root, self.path, summary, self.read, after, error)

    def _project(self, data: CommentedMap, name: str) -> CommentedMap:
        projects = data.get("projects")
        for project in projects if isinstance(projects, list) else []:
            if isinstance(project, CommentedMap) and project.get("name") == name:
                return project
        raise NotFoundError(
            f"p2c.yaml has no project {name!r}.",
            fix="`p2c projects` lists the workspace's projects",
        )

    def _template_legs(self, data: CommentedMap, project: str, task: str) -> list[Leg]:
        """The legs of a project's task in its template; [] when either is unknown (the
        checks of the edited text then say what is wrong)."""
        template = self._project(data, project).get("template")
        found = self.catalog.all().get(str(template))
        for each in found.tasks if found else []:
            if each.name == task:
                return list(each.legs)
        return []

    def _legs(self, data: CommentedMap, project: str, task: str) -> list[str]:
        return [leg.name for leg in self._template_legs(data, project, task)]

    def _where(
        self, data: CommentedMap, project: str, task: str, leg: str | None, first: bool
    ) -> tuple[str | None, str | None]:
        """Where a change of a task's leg goes: (None, the leg) for the task's own changes
        (they apply to its first leg's filter and its last leg's map), or (the leg, None) for
        ``legs: {leg: ...}``. The second is the leg entry that could hold the same change."""
        legs = self._legs(data, project, task)
        own = legs[0 if first else -1] if legs else None
        if leg is None or leg == own:
            return None, own
        return leg, None

    def _place(
        self, data: CommentedMap, project: str, task: str, leg: str | None, create: bool
    ) -> CommentedMap | None:
        """A task's changes (``leg`` None) or its changes of one leg; None when absent and not
        ``create``."""
        settings = self._project(data, project)
        tasks = settings.get("tasks")
        if not isinstance(tasks, CommentedMap):
            if not create:
                return None
            tasks = settings["tasks"] = new_map()
        elif create and not tasks and tasks.fa.flow_style():
            tasks.fa.set_block_style()  # `tasks: {}` of p2c init becomes a block
        place = tasks.get(task)
        for key in [] if leg is None else ["legs", leg]:
            if not isinstance(place, CommentedMap):
                break
            if not isinstance(place.get(key), CommentedMap):
                if not create:
                    return None
                place[key] = new_map()
            place = place[key]
        if isinstance(place, CommentedMap):
            return place
        if not create:
            return None
        tasks[task] = new_map()
        return self._place(data, project, task, leg, create)

    def _clear(
        self, data: CommentedMap, project: str, task: str, leg: str | None, *keys: str
    ) -> None:
        """Drop ``keys`` (each a path ``map``/``remove`` + field, or ``filter``) from a leg's
        changes, and the task's changes an edit left empty."""
        place = self._place(data, project, task, leg, create=False)
        if place is None:
            return
        carried: list[str] = []
        for key in keys:
            carried = self._drop(place, *key.split("\0"), carried=carried)
        self._prune(data, project, task, carried)

    @staticmethod
    def _drop(container: CommentedMap, *path: Any, carried: list[str] | None = None) -> list[str]:
        """Delete ``container[path...]`` (a list's item by its value) and every container
        below ``container`` the deletion empties, their comments handed on (``carried``:
        comments of entries deleted before, inside ``container[path...]``). Returns the
        comments that had no place left: ``container`` is empty."""
        nodes: list[Any] = [container]
        for key in path[:-1]:
            node = nodes[-1].get(key) if isinstance(nodes[-1], CommentedMap) else None
            if not isinstance(node, CommentedMap | CommentedSeq):
                return carried or []
            nodes.append(node)
        last, leaf = nodes[-1], path[-1]
        if leaf not in last:
            return carried or []
        at = last.index(leaf) if isinstance(last, CommentedSeq) else leaf
        left = delete_entry(last, at, carried)
        for depth in range(len(nodes) - 1, 0, -1):
            if nodes[depth] or not isinstance(nodes[depth - 1], CommentedMap):
                break
            left = delete_entry(nodes[depth - 1], path[depth - 1], left)
        return left

    # -- the edits -------------------------------------------------------------------------

    def add_project(
        self,
        name: str,
        template: str,
        connection_set: str = "sandbox",
        business_unit: str | None = None,
        alias: str | None = None,
    ) -> ConfigChange:
        """A new project from a template on a connection set, for one organization mapping
        (``business_unit``; all of the set's when None): the Data Integrator's New project."""

        def edit(data: CommentedMap) -> None:
            projects = data.get("projects")
            if not isinstance(projects, CommentedSeq):
                projects = data["projects"] = CommentedSeq()
            entry = new_map(("name", flow(name)), ("template", flow(template)))
            entry["connection_set"] = flow(connection_set)
            if business_unit:
                entry["business_unit"] = flow(business_unit)
            if alias:
                entry["alias"] = flow(alias)
            projects.append(entry)

        return self._change(f"add project {name!r} from template {template!r}", edit)

    def set_mapping(
        self, project: str, task: str, field: str, transform: Any, leg: str | None = None
    ) -> ConfigChange:
        """Map destination ``field`` of a task's leg (its last, the one writing F&O, unless
        ``leg`` names another) to ``transform``: a `Transform`, or its YAML form (a source
        field, ``{default: X}``, ``{from: x, value_map: {...}, else: y}``, ``{fn: ...}``)."""
        value = transform_yaml(transform) if not isinstance(transform, str | dict) else transform

        def edit(data: CommentedMap) -> None:
            at, twin = self._where(data, project, task, leg, first=False)
            if twin is not None:
                self._clear(data, project, task, twin, f"map\0{field}", f"remove\0{field}")
            changes = self._place(data, project, task, at, create=True)
            assert changes is not None
            left = self._drop(changes, "remove", field)
            mapped = changes.get("map")
            if not isinstance(mapped, CommentedMap):
                mapped = changes["map"] = new_map()
            elif not mapped and mapped.fa.flow_style():
                mapped.fa.set_block_style()
            _merge(mapped, field, value)
            keep_above(changes, "map", left, _key_column(changes, "map"))

        return self._change(f"{_where(project, task, leg)}: map {field}", edit)

    def remove_mapping(
        self, project: str, task: str, field: str, leg: str | None = None
    ) -> ConfigChange:
        """Stop mapping destination ``field`` (``remove: [field]``); the field is left as the
        destination has it."""

        def edit(data: CommentedMap) -> None:
            at, twin = self._where(data, project, task, leg, first=False)
            if twin is not None:
                self._clear(data, project, task, twin, f"map\0{field}", f"remove\0{field}")
            changes = self._place(data, project, task, at, create=True)
            assert changes is not None
            left = self._drop(changes, "map", field)
            legs = {leg.name: leg for leg in self._template_legs(data, project, task)}
            named = legs.get(leg) if leg is not None else legs.get(next(reversed(legs), ""))
            if named is not None and field not in named.map:  # the project's own field
                self._prune(data, project, task, left)
                return
            removed = changes.get("remove")
            if not isinstance(removed, CommentedSeq):
                removed = changes["remove"] = flow([])
            if field not in removed:
                removed.append(flow(field))
            keep_above(changes, "remove", left, _key_column(changes, "remove"))

        return self._change(f"{_where(project, task, leg)}: remove {field}", edit)

    def reset_mapping(
        self, project: str, task: str, field: str, leg: str | None = None
    ) -> ConfigChange:
        """Undo the project's change of destination ``field``: the template's mapping again."""

        def edit(data: CommentedMap) -> None:
            at, twin = self._where(data, project, task, leg, first=False)
            for place in (at, twin) if at is None else (at,):
                self._clear(data, project, task, place, f"map\0{field}", f"remove\0{field}")

        return self._change(f"{_where(project, task, leg)}: {field} as the template maps it", edit)

    def set_filter(
        self, project: str, task: str, filter: str | None, leg: str | None = None
    ) -> ConfigChange:
        """Set the source filter of a task's leg (its first, unless ``leg`` names another);
        ``all`` reads every record; None gives the template's filter back."""

        def edit(data: CommentedMap) -> None:
            at, twin = self._where(data, project, task, leg, first=True)
            if twin is not None:
                self._clear(data, project, task, twin, "filter")
            if filter is None:
                self._clear(data, project, task, at, "filter")
                return
            changes = self._place(data, project, task, at, create=True)
            assert changes is not None
            _merge(changes, "filter", filter)

        shown = "the template's" if filter is None else repr(filter)
        return self._change(f"{_where(project, task, leg)}: filter {shown}", edit)

    def _prune(
        self, data: CommentedMap, project: str, task: str, carried: list[str] | None = None
    ) -> None:
        """Remove a task's changes that an edit left empty (``tasks: {}`` stays); comments
        with no place left (``carried``) go above ``tasks``."""
        settings = self._project(data, project)
        tasks = settings.get("tasks")
        changes = tasks.get(task) if isinstance(tasks, CommentedMap) else None
        left = list(carried or [])
        if isinstance(changes, CommentedMap):
            by_leg = changes.get("legs")
            if isinstance(by_leg, CommentedMap):
                for name in [n for n, v in by_leg.items() if isinstance(v, CommentedMap) and not v]:
                    left = self._drop(changes, "legs", name, carried=left)
            if not changes:
                left = delete_entry(tasks, task, left)
                if not tasks:
                    tasks.fa.set_flow_style()
        if left and "tasks" in settings:
            keep_above(settings, "tasks", left, _key_column(settings, "tasks"))

    def save_as_template(self, project: str, name: str) -> ConfigChange:
        """The Data Integrator's "Save as template": the project's template with its changes,
        as the workspace's template ``name`` (``templates/<name>.yaml``).

        Raises:
            ConfigError: p2c.yaml is refused by its checks, or the name is taken.
            NotFoundError: no such project.
        """
        return template_change(self.root, self.text, self.catalog, project, name)

    def set_schedule(self, project: str, schedule: Schedule | None) -> ConfigChange:
        """Set a project's recurrence (``every`` or ``cron`` with ``timezone``, ``paused``);
        None: no schedule, the project runs when asked."""

        def edit(data: CommentedMap) -> None:
            settings = self._project(data, project)
            if schedule is None:
                self._drop(settings, "schedule")
                return
            value: dict[str, Any] = (
                {"every": schedule.every}
                if schedule.every
                else {"cron": schedule.cron, "timezone": schedule.timezone}
            )
            if schedule.paused:
                value["paused"] = True
            _merge(settings, "schedule", value)

        shown = "none" if schedule is None else schedule.describe()
        paused = ", paused" if schedule is not None and schedule.paused else ""
        return self._change(f"{project}: schedule {shown}{paused}", edit)

    def set_notify(self, project: str, notify: Notify | None) -> ConfigChange:
        """Set who hears of a project's runs (``email``, ``on``, ``webhook``); None: nobody."""

        def edit(data: CommentedMap) -> None:
            settings = self._project(data, project)
            if notify is None or not (notify.email or notify.webhook):
                self._drop(settings, "notify")
                return
            value: dict[str, Any] = {"on": list(notify.on), "email": list(notify.email)}
            if notify.webhook:
                value["webhook"] = notify.webhook
            old = settings.get("notify")
            # YAML 1.1 reads a bare `on` key as true: keep the key as the file writes it.
            if isinstance(old, CommentedMap):
                for key in old:
                    if str(key).lower() in ("on", "true") and key != "on":
                        value = {(key if k == "on" else k): v for k, v in value.items()}
            _merge(settings, "notify", value)

        recipients = ", ".join(notify.email) if notify and notify.email else "nobody"
        return self._change(f"{project}: notify {recipients}", edit)


def _key_column(container: CommentedMap, key: str) -> int:
    """The column of ``key`` as read, else of the mapping's first key as read, else 0."""
    for name in (key, *container):
        try:
            return int(container.lc.key(name)[1])
        except (KeyError, TypeError, AttributeError):
            continue
    return 0


def _where(project: str, task: str, leg: str | None) -> str:
    return f"{project} / {task}" + (f" / {leg}" if leg else "")
