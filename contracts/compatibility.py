"""Whether a change to the contracts keeps outside subscribers working.

The published JSON Schemas (``contracts/published/``) are a promise: a consumer built
against ``sales.customers.decision_state_changed.v1.schema.json`` keeps reading every
``…:v1`` message, the ones already kept in the stream and the ones still to come. So
within one schema version the schema may only change in ways such a consumer cannot
notice; anything else needs a new ``schema_version``, published beside the old one.

Breaking (within one version):

- a field removed, or no longer required (a consumer reading it finds it missing);
- a new required field, or an optional one made required (older messages lack it);
- a type changed, narrowed or widened (``string`` -> ``string | null`` included);
- an enum value removed, or a free value limited to an enum or a const;
- a pattern or format added or changed, a lower bound raised or an upper bound lowered
  (``minLength``/``maxLength``, ``minimum``/``maximum``, ``minItems``…), ``multipleOf``
  made stricter, ``uniqueItems`` or ``additionalProperties: false`` added;
- any of the above in the CloudEvents envelope, which is part of every message schema;
- a change to a keyword this checker does not model (it cannot prove it harmless).

Compatible: an optional field added, an enum value added, a limit loosened, a pattern
removed, and every annotation (``description``, ``title``, ``examples``, ``default``).

The comparison is deliberately conservative: when it cannot prove a change harmless
(e.g. a union's alternatives changed) it reports it, because a false alarm costs a
version bump while a missed break costs every subscriber.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from contracts.base import IntegrationEvent
from contracts.export import export_contracts, schema_file_name
from contracts.registry import EVENT_TYPES
from contracts.schemas import JsonSchema, message_schema
from contracts.subjects import parse_subject, schema_urn

#: Where the generated documents are committed; ``make contracts`` writes here.
PUBLISHED_DIR: Final = Path(__file__).resolve().parent / "published"
#: What to tell someone whose published documents are out of date.
REGENERATE: Final = "run `make contracts` (= `salesops contracts export contracts/published`)"

_SCHEMA_FILE = re.compile(r"(?P<subject>.+)\.v(?P<version>[1-9][0-9]*)\.schema\.json")

# Keywords that describe but never reject a message: changing them breaks nobody.
_ANNOTATIONS: Final = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "contentEncoding",
        "contentMediaType",
    }
)
_STRUCTURE: Final = frozenset({"$ref", "anyOf", "oneOf", "allOf", "type", "enum", "const"})
# Validation keywords by the JSON type they apply to (JSON Schema ignores the others).
_STRING: Final = frozenset({"minLength", "maxLength", "pattern", "format"})
_NUMBER: Final = frozenset(
    {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
)
_OBJECT: Final = frozenset(
    {"properties", "required", "additionalProperties", "minProperties", "maxProperties"}
)
_ARRAY: Final = frozenset({"items", "minItems", "maxItems", "uniqueItems"})
_KEYWORDS_OF_TYPE: Final[dict[str, frozenset[str]]] = {
    "string": _STRING,
    "number": _NUMBER,
    "integer": _NUMBER,
    "object": _OBJECT,
    "array": _ARRAY,
    "boolean": frozenset(),
    "null": frozenset(),
}
_KNOWN: Final = _ANNOTATIONS | _STRUCTURE | _STRING | _NUMBER | _OBJECT | _ARRAY
_ALL_TYPES: Final = tuple(sorted(_KEYWORDS_OF_TYPE))
_LOWER_BOUNDS: Final = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
_UPPER_BOUNDS: Final = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")


@dataclass(frozen=True, order=True)
class Change:
    """One incompatible difference between two schemas of the same version."""

    #: Where in the message, e.g. ``data.to_state`` or ``actor`` (an envelope attribute);
    #: ``[]`` stands for the items of an array, ``*`` for the values of a map.
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path or '(the message)'}: {self.reason}"


def compare_schemas(published: JsonSchema, current: JsonSchema) -> list[Change]:
    """Every change from ``published`` to ``current`` that a consumer of ``published`` notices.

    Both are whole documents (their ``$ref`` point into their own ``$defs``). An empty
    list means ``current`` may replace ``published`` under the same version.
    """
    comparison = _Comparison(published, current)
    if published.get("$id") != current.get("$id"):
        comparison.report("", f"$id changed from {published.get('$id')} to {current.get('$id')}")
    comparison.compare(published, current, "")
    return sorted(set(comparison.changes))


@dataclass(frozen=True)
class Problem:
    """Something in the published set that would break, or has broken, a subscriber."""

    #: ``DecisionStateChanged v1``, or a file name when no event class matches.
    where: str
    message: str
    #: For a schema changed in place: the event type and the version it needs instead.
    needs_version: tuple[str, int] | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class BreakingChange(Exception):
    """The code changed a published schema in place; it needs a new version instead."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(format_problems(problems))
        self.problems = problems


def check_published(
    directory: Path = PUBLISHED_DIR, events: Iterable[type[IntegrationEvent]] | None = None
) -> list[Problem]:
    """Every way the code's contracts break what ``directory`` promised subscribers.

    Per event: the current version's schema must be compatible with its published one;
    versions never go back; every earlier version stays published beside the current one.
    A published event that no class publishes any more is a removal, which breaks its
    subscribers too. Each published file must name itself with the ``dataschema`` URN its
    name stands for. A version not published yet is not a problem here (it is new); the
    test comparing the folder with a fresh export asks for it to be published.
    """
    events = list(EVENT_TYPES.values() if events is None else events)
    published, problems = _published_files(directory)
    by_subject = {event.subject(): event for event in events}
    for event in sorted(events, key=lambda cls: cls.event_type()):
        versions = sorted(version for subject, version in published if subject == event.subject())
        current = event.schema_version
        if versions and versions[-1] > current:
            problems.append(
                Problem(
                    _label(event, current),
                    f"schema_version went back: v{versions[-1]} is already published",
                )
            )
        problems.extend(
            Problem(
                _label(event, version),
                f"no longer published beside v{current}: a new version is published beside "
                f"the old one, never instead of it (restore {directory.name}/"
                f"{event.subject()}.v{version}.schema.json from version control)",
            )
            for version in range(1, current)
            if version not in versions
        )
        problems.extend(edits_in_place(event, directory))
    for (subject, version), path in sorted(published.items()):
        owner = by_subject.get(subject)
        if owner is None:
            problems.append(
                Problem(
                    path.name,
                    "published, but no event class publishes it any more: removing an event "
                    "breaks its subscribers",
                )
            )
            continue
        problems.extend(_naming_problems(owner, version, path))
    return problems


def edits_in_place(event: type[IntegrationEvent], directory: Path) -> list[Problem]:
    """The incompatible changes of ``event``'s current schema to its published one, if any."""
    path = directory / schema_file_name(event)
    if not path.is_file():
        return []
    label = _label(event, event.schema_version)
    try:
        published = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [Problem(label, f"{path.name} cannot be read as JSON: {exc}")]
    needs = (event.event_type(), event.schema_version + 1)
    return [
        Problem(label, str(change), needs)
        for change in compare_schemas(published, message_schema(event))
    ]


def publish_contracts(directory: Path) -> list[Path]:
    """``export_contracts``, but never over a published schema the code changed incompatibly.

    Regenerating is what a developer does when the published folder is out of date, so
    this is where an edit in place would otherwise slip through: it raises
    :class:`BreakingChange` and writes nothing instead.
    """
    problems = [
        problem for event in EVENT_TYPES.values() for problem in edits_in_place(event, directory)
    ]
    if problems:
        raise BreakingChange(problems)
    return export_contracts(directory)


def format_problems(problems: Iterable[Problem]) -> str:
    """One line per problem, then what to do about schemas changed in place.

    An envelope change shows in every event's schema; it is listed once, with the count.
    """
    grouped: dict[str, list[str]] = {}
    bumps: dict[str, int] = {}
    for problem in problems:
        grouped.setdefault(problem.message, []).append(problem.where)
        if problem.needs_version is not None:
            bumps.setdefault(*problem.needs_version)
    lines = []
    for message, where in grouped.items():
        shown = ", ".join(where) if len(where) <= 3 else f"{len(where)} events ({where[0]}, …)"
        lines.append(f"- {shown}: {message}")
    if bumps:
        versions = ", ".join(
            f"{name}.schema_version = {version}" for name, version in bumps.items()
        )
        lines.append(
            "A change subscribers notice is a new version, never an edit in place: set "
            f"{versions}, then {REGENERATE}; the old version's schema stays published "
            "beside the new one."
        )
    return "\n".join(lines)


def _label(event: type[IntegrationEvent], version: int) -> str:
    return f"{event.event_type()} v{version}"


def _published_files(directory: Path) -> tuple[dict[tuple[str, int], Path], list[Problem]]:
    files: dict[tuple[str, int], Path] = {}
    problems: list[Problem] = []
    for path in sorted(directory.glob("*.schema.json")):
        match = _SCHEMA_FILE.fullmatch(path.name)
        try:
            if match is None:
                raise ValueError(path.name)
            parsed = parse_subject(match["subject"])
        except ValueError:
            problems.append(Problem(path.name, "not named <sales subject>.v<N>.schema.json"))
            continue
        if parsed.namespace:  # only test runs have namespaces; published names never do
            problems.append(Problem(path.name, "a published schema is never namespaced"))
            continue
        files[(match["subject"], int(match["version"]))] = path
    return files, problems


def _naming_problems(event: type[IntegrationEvent], version: int, path: Path) -> list[Problem]:
    # The URN is what consumers key on (the envelope's dataschema): the file must carry
    # exactly the one contracts.subjects.schema_urn gives for its event and version.
    expected = schema_urn(event.service, event.event_type(), version)
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
        properties = schema.get("properties", {})
        named = (
            schema.get("$id"),
            properties.get("dataschema", {}).get("const"),
            properties.get("schemaversion", {}).get("const"),
        )
    except (OSError, ValueError, AttributeError) as exc:
        return [Problem(path.name, f"cannot be read as a message schema: {exc}")]
    if named != (expected, expected, version):
        return [
            Problem(
                path.name,
                f"names itself $id={named[0]}, dataschema={named[1]}, schemaversion={named[2]}; "
                f"expected {expected} and version {version}",
            )
        ]
    return []


class _Comparison:
    """A walk over two schema documents side by side, collecting incompatible changes."""

    def __init__(self, old_root: JsonSchema, new_root: JsonSchema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.changes: list[Change] = []
        # Pairs of definitions being compared further up: a recursive model ends here.
        self._active: set[tuple[str, str]] = set()

    def report(self, path: str, reason: str) -> None:
        self.changes.append(Change(path, reason))

    def compare(self, old: Any, new: Any, path: str) -> None:
        old_schema, old_ref = _resolve(old, self.old_root)
        new_schema, new_ref = _resolve(new, self.new_root)
        if old_schema is None or new_schema is None:
            missing = old_ref if old_schema is None else new_ref
            self.report(path, f"a $ref cannot be resolved ({missing})")
            return
        key = (old_ref or "", new_ref or "")
        if old_ref and new_ref:
            if key in self._active:
                return
            self._active.add(key)
        try:
            self._compare_resolved(old_schema, new_schema, path)
        finally:
            self._active.discard(key)

    def _compare_resolved(self, old: JsonSchema, new: JsonSchema, path: str) -> None:
        old_by_type = self._by_type(old, self.old_root)
        new_by_type = self._by_type(new, self.new_root)
        if set(old_by_type) != set(new_by_type):
            self.report(
                path, f"type changed from {_types_text(old_by_type)} to {_types_text(new_by_type)}"
            )
        for json_type in sorted(set(old_by_type) & set(new_by_type)):
            olds, news = old_by_type[json_type], new_by_type[json_type]
            if len(olds) == 1 and len(news) == 1:
                self._compare_same_type(json_type, olds[0], news[0], path)
                continue
            # A union with several alternatives of one type (e.g. two object models): each
            # old alternative must still be there, unchanged for its consumers.
            for old_alternative in olds:
                if not any(self._fits(json_type, old_alternative, new_alt) for new_alt in news):
                    self.report(
                        path,
                        f"an alternative of the union ({json_type}) was removed or changed "
                        f"incompatibly: {_brief(old_alternative)}",
                    )

    def _fits(self, json_type: str, old: JsonSchema, new: JsonSchema) -> bool:
        trial = _Comparison(self.old_root, self.new_root)
        trial._active = set(self._active)
        trial._compare_same_type(json_type, old, new, "")
        return not trial.changes

    def _by_type(self, schema: JsonSchema, root: JsonSchema) -> dict[str, list[JsonSchema]]:
        """The alternatives of a schema, by the JSON types each one admits."""
        by_type: dict[str, list[JsonSchema]] = {}
        for alternative in _alternatives(schema, root):
            for json_type in _types_of(alternative):
                by_type.setdefault(json_type, []).append(alternative)
        return by_type

    def _compare_same_type(
        self, json_type: str, old: JsonSchema, new: JsonSchema, path: str
    ) -> None:
        self._unknown_keywords(old, new, path)
        self._values(json_type, old, new, path)
        keywords = _KEYWORDS_OF_TYPE[json_type]
        self._bounds(keywords, old, new, path)
        for keyword in ("pattern", "format"):
            if keyword in keywords and new.get(keyword) not in (None, old.get(keyword)):
                was = f" from {old[keyword]!r}" if keyword in old else ""
                self.report(
                    path, f"{keyword} {'changed' if was else 'added'}{was} to {new[keyword]!r}"
                )
        if json_type == "object":
            self._object(old, new, path)
        elif json_type == "array":
            self._array(old, new, path)

    def _unknown_keywords(self, old: JsonSchema, new: JsonSchema, path: str) -> None:
        for keyword in sorted((set(old) | set(new)) - _KNOWN):
            if old.get(keyword) != new.get(keyword):
                self.report(
                    path,
                    f"{keyword} changed; this checker does not model it, so it cannot prove "
                    "the change harmless",
                )

    def _values(self, json_type: str, old: JsonSchema, new: JsonSchema, path: str) -> None:
        old_values, new_values = _allowed_values(old, json_type), _allowed_values(new, json_type)
        if new_values is None:
            return  # no enum (any more): loosened at most
        if old_values is None:
            self.report(path, f"now limited to {_values_text(new_values)}")
            return
        removed = [value for value in old_values if value not in new_values]
        if removed:
            self.report(path, f"enum value(s) removed: {_values_text(removed)}")

    def _bounds(
        self, keywords: frozenset[str], old: JsonSchema, new: JsonSchema, path: str
    ) -> None:
        for keyword in _LOWER_BOUNDS + _UPPER_BOUNDS:
            if keyword not in keywords or new.get(keyword) is None:
                continue
            before, after = old.get(keyword), new[keyword]
            lower = keyword in _LOWER_BOUNDS
            if before is None or (after > before if lower else after < before):
                was = f" from {before}" if before is not None else ""
                self.report(path, f"{keyword} tightened{was} to {after}")
        if "multipleOf" in keywords and new.get("multipleOf") is not None:
            before, after = old.get("multipleOf"), new["multipleOf"]
            # Still compatible when every old multiple is a new one: old is a multiple of new.
            if before is None or Decimal(str(before)) % Decimal(str(after)) != 0:
                self.report(path, f"multipleOf tightened from {before} to {after}")

    def _object(self, old: JsonSchema, new: JsonSchema, path: str) -> None:
        old_fields: dict[str, Any] = old.get("properties", {})
        new_fields: dict[str, Any] = new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for name, old_field in old_fields.items():
            if name not in new_fields:
                # Even where unknown fields are allowed, a consumer reading it gets nothing.
                self.report(_child(path, name), "field removed")
            else:
                self.compare(old_field, new_fields[name], _child(path, name))
        for name in sorted(new_required - old_required):
            if name in old_fields:
                reason = "field made required: messages already published may lack it"
            else:
                reason = "new required field: messages already published lack it"
            self.report(_child(path, name), reason)
        for name in sorted(old_required - new_required):
            if name in new_fields or name not in old_fields:
                self.report(
                    _child(path, name),
                    "field no longer required: a consumer reading it may find it missing",
                )
        old_extra = _open_schema(old.get("additionalProperties", True))
        new_extra = _open_schema(new.get("additionalProperties", True))
        if new_extra is False and old_extra is not False:
            self.report(path, "closed to fields it does not list (additionalProperties: false)")
        elif isinstance(new_extra, dict):
            if isinstance(old_extra, dict):
                self.compare(old_extra, new_extra, _child(path, "*"))
            elif old_extra is True:
                self.report(path, "fields it does not list must now match a schema")

    def _array(self, old: JsonSchema, new: JsonSchema, path: str) -> None:
        if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
            self.report(path, "uniqueItems added")
        old_items = _open_schema(old.get("items", True))
        new_items = _open_schema(new.get("items", True))
        if new_items is True:
            return
        if old_items is True or new_items is False:
            self.report(path, "its items are now constrained")
        elif isinstance(old_items, dict) and isinstance(new_items, dict):
            self.compare(old_items, new_items, f"{path}[]")


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _open_schema(schema: Any) -> Any:
    """``{}`` admits everything, exactly as ``true`` does."""
    return True if schema == {} else schema


def _resolve(schema: Any, root: JsonSchema) -> tuple[JsonSchema | None, str | None]:
    """Follow ``$ref`` (and a lone ``allOf``) into one schema; keywords beside it are kept."""
    if schema is True:
        return {}, None
    if schema is False:
        return {"not": {}}, None
    last_ref: str | None = None
    resolved: JsonSchema = dict(schema)
    for _ in range(64):  # a chain of pure references longer than this is a loop
        if "$ref" in resolved:
            last_ref = resolved.pop("$ref")
            target = _pointer(root, last_ref)
            if target is None:
                return None, last_ref
            # Siblings of $ref (pydantic puts description/examples there) apply as well;
            # they win, as they are the more specific text.
            resolved = {**target, **resolved}
        elif isinstance(resolved.get("allOf"), list) and len(resolved["allOf"]) == 1:
            (only,) = resolved.pop("allOf")
            inner, ref = _resolve(only, root)
            if inner is None:
                return None, ref
            last_ref = ref or last_ref
            resolved = {**inner, **resolved}
        else:
            return resolved, last_ref
    return None, last_ref


def _pointer(root: JsonSchema, reference: str) -> JsonSchema | None:
    if not reference.startswith("#"):
        return None  # another document: not ours to compare
    node: Any = root
    for token in filter(None, reference[1:].split("/")):
        token = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or token not in node:
            return None
        node = node[token]
    return node if isinstance(node, dict) else None


def _alternatives(schema: JsonSchema, root: JsonSchema) -> Iterator[JsonSchema]:
    """The schema as a flat list of ``anyOf`` alternatives, each fully resolved."""
    choices = schema.get("anyOf", schema.get("oneOf"))
    if not isinstance(choices, list):
        yield schema
        return
    # Keywords beside anyOf constrain every alternative; annotations there describe it.
    shared = {
        key: value
        for key, value in schema.items()
        if key not in ("anyOf", "oneOf") and key not in _ANNOTATIONS
    }
    for choice in choices:
        resolved, _ = _resolve(choice, root)
        if resolved is None:
            resolved = {"$unresolved": choice}
        for alternative in _alternatives(resolved, root):
            yield {**shared, **alternative}


def _types_of(schema: JsonSchema) -> tuple[str, ...]:
    if schema.get("not") == {}:
        return ()  # the schema `false`: admits nothing
    declared = schema.get("type")
    if isinstance(declared, str):
        return (declared,)
    if isinstance(declared, list):
        return tuple(declared)
    values = [schema["const"]] if "const" in schema else schema.get("enum")
    if isinstance(values, list):
        return tuple(sorted({_json_type(value) for value in values}))
    return _ALL_TYPES


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _allowed_values(schema: JsonSchema, json_type: str) -> list[Any] | None:
    if "const" in schema:
        values = [schema["const"]]
    elif isinstance(schema.get("enum"), list):
        values = schema["enum"]
    else:
        return None
    # An integer is a number too: a number field limited to [1, 2.5] admits the integer 1.
    admitted = {json_type, "integer"} if json_type == "number" else {json_type}
    return [value for value in values if _json_type(value) in admitted]


def _values_text(values: list[Any]) -> str:
    return ", ".join(json.dumps(value, ensure_ascii=False) for value in values)


def _types_text(by_type: dict[str, list[JsonSchema]]) -> str:
    return " | ".join(sorted(by_type)) or "nothing"


def _brief(schema: JsonSchema) -> str:
    title = schema.get("title")
    if isinstance(title, str):
        return title
    text = json.dumps({k: v for k, v in schema.items() if k not in _ANNOTATIONS}, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."
