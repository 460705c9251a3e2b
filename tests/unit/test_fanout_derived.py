"""Derived documents (MEA mode's per-electrode measurements) follow their document through the same
fanout: every critical sink and observer sees them right after it, in order."""

from __future__ import annotations

import pytest

from rig.core.subscribers import Fanout


def test_derived_documents_follow_their_document_to_every_subscriber():
    seen_c, seen_o = [], []
    f = Fanout([seen_c.append], [seen_o.append], lambda: 0, 100)
    f.derived.append(lambda d: (f"{d}'",) if isinstance(d, str) and not d.endswith("'") else ())
    for d in ("sweep", 3, "measured"):
        f.emit(d)
    assert seen_c == seen_o == ["sweep", "sweep'", 3, "measured", "measured'"]


def test_a_failing_derived_function_fails_like_a_critical_sink():
    f = Fanout([lambda d: None], [], lambda: 0, 100)

    def broken(doc):
        raise RuntimeError("cannot measure")

    f.derived.append(broken)
    with pytest.raises(RuntimeError, match="cannot measure"):
        f.emit("sweep")
    f.emit_safely("run stop")  # the exit path does not derive
