"""The event vocabulary is complete: every kind a producer emits (a real simulated run, and every
event construction in the source) is a registered type, the display model and `rig summary`
declare what they do with each, and docs/file-format.md lists them from the same source."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from rig.analysis.summary import SUMMARY_EVENTS
from rig.core import event_doc
from rig.core import events as ev
from rig.display.model import EVENT_DISPLAY, DisplayModel
from tests.event_run import record_run

ROOT = Path(__file__).resolve().parents[2]
TYPES = set(ev.EVENT_TYPES.values())
EVENT_CLASSES = {n: t for n, t in vars(ev).items() if isinstance(t, type) and issubclass(t, ev.Event)}


@pytest.fixture(scope="module")
def emitted(tmp_path_factory) -> set[type]:
    run = record_run(tmp_path_factory.mktemp("vocab"))
    return {type(d) for d in run.docs if isinstance(d, ev.Event)}


def _constructed_in_source() -> dict[str, list[str]]:
    """Event class name → places (file:line) where the source constructs it."""
    out: dict[str, list[str]] = {}
    for path in [*(ROOT / "rig").rglob("*.py"), *(ROOT / "drivers").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                f = node.func
                if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "threading":
                    continue  # threading.Event
                if isinstance(f, ast.Attribute) and f.attr == "put" and isinstance(f.value, ast.Attribute) \
                        and f.value.attr == "external_events" and node.args and isinstance(node.args[0], ast.Tuple):
                    out.setdefault("Event", []).append(f"{path.relative_to(ROOT)}:{node.lineno} (a free-string tuple)")
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                if name in EVENT_CLASSES:
                    out.setdefault(name, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return out


def test_every_kind_a_real_run_emits_is_in_the_vocabulary(emitted):
    assert emitted and not {ev.UnknownEvent} & emitted
    assert emitted <= TYPES
    for want in (ev.Paused, ev.Resumed, ev.Operator, ev.IntensitySet, ev.Induction, ev.Alarm, ev.PhaseEntered):
        assert want in emitted, want


def test_every_event_constructed_in_the_source_is_a_registered_type():
    made = _constructed_in_source()
    assert "Event" not in made, f"the base Event is built with a free kind at {made.get('Event')}"
    unknown = {n: w for n, w in made.items() if EVENT_CLASSES[n] not in TYPES and n != "UnknownEvent"}
    assert not unknown
    assert {"Paused", "Operator", "Gap", "OutputsZeroed", "Recovered", "OperatorRefused"} <= set(made)


def test_display_model_and_summary_declare_every_kind():
    assert set(EVENT_DISPLAY) == TYPES | {ev.UnknownEvent}
    assert set(SUMMARY_EVENTS) == TYPES | {ev.UnknownEvent}
    for t, how in EVENT_DISPLAY.items():
        assert how.why, t
        assert how.handler is None or callable(getattr(DisplayModel, how.handler, None)), (t, how.handler)


@pytest.mark.parametrize("kind", sorted(ev.EVENT_TYPES))
def test_every_type_survives_the_stored_form(kind):
    t = ev.EVENT_TYPES[kind]
    e = t(sample=123, text="t", extra={"detail": 1.5})
    sample, k, text, data = ev.to_stored(e)
    back = ev.from_stored(sample, k, text, data)
    assert back == e and back.kind == kind
    assert t.__doc__ and all(f.name != "kind" for f in dataclasses.fields(t))


def test_files_written_before_the_types_still_read():
    old = ev.from_stored(5, "induction", "TBS on S1", {"kind": "tbs", "pulses": 40, "pathways": [0]})
    assert isinstance(old, ev.Induction) and old.protocol == "tbs" and old.pulses == 40
    future = ev.from_stored(6, "something_new", "x", '{"a": 1}')
    assert isinstance(future, ev.UnknownEvent) and future.kind == "something_new" and future.data == {"a": 1}


def test_file_format_doc_lists_the_kinds_from_the_vocabulary(tmp_path):
    doc = ROOT / "docs" / "file-format.md"
    text = doc.read_text(encoding="utf-8")
    assert event_doc.DOC_BEGIN + "\n" + event_doc.markdown_table() + "\n" + event_doc.DOC_END in text, \
        "regenerate with: python -c 'from rig.core.event_doc import update_doc; update_doc(\"docs/file-format.md\")'"
    copy = tmp_path / "f.md"
    copy.write_text(text.replace("| `gap` |", "| `gapp` |"))
    assert event_doc.update_doc(copy) and copy.read_text() == text
