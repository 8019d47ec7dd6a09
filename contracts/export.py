"""Write the published language to files: one JSON Schema per event, and AsyncAPI."""

import json
from pathlib import Path
from typing import Any

import yaml

from contracts.asyncapi import asyncapi_document
from contracts.base import IntegrationEvent
from contracts.registry import EVENT_TYPES
from contracts.schemas import message_schema

ASYNCAPI_FILE_NAME = "asyncapi.yaml"


def schema_file_name(event: type[IntegrationEvent]) -> str:
    """``sales.customers.decision_state_changed.v1.schema.json`` for DecisionStateChanged v1."""
    return f"{event.subject()}.v{event.schema_version}.schema.json"


def export_contracts(out_dir: Path) -> list[Path]:
    """Write every event's message schema and ``asyncapi.yaml`` into ``out_dir``.

    The directory is created if needed; files of the same names are overwritten, others
    are left alone. Output is deterministic, so it can be committed and diffed.
    Returns the written paths, schemas first (sorted by name), AsyncAPI last.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for event in sorted(EVENT_TYPES.values(), key=schema_file_name):
        written.append(_write(out_dir / schema_file_name(event), _json(message_schema(event))))
    document = yaml.dump(
        asyncapi_document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
    written.append(_write(out_dir / ASYNCAPI_FILE_NAME, document))
    return written


class _Dumper(yaml.SafeDumper):
    """Safe YAML, with multi-line text (docstrings) as readable ``|`` blocks."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
