"""Fuzz the protocol and rig loaders through the command line (in-process): thousands of malformed
files give exit 2 and one readable line per problem, never a traceback, and never open a device."""

from __future__ import annotations

import copy
import json
import math
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rig.experiment.assemble
import rig.experiment.runner
from rig.cli import main
from rig.protocol.rigfile import default_rig_text
from tests.conftest import PROTOCOLS

SETTINGS = settings(max_examples=400, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SHIPPED = {p.stem: tomllib.loads(p.read_text()) for p in sorted(PROTOCOLS.glob("*.toml"))}
RIG = tomllib.loads(default_rig_text())


# -- a small TOML writer (tables, arrays of tables, inline values; NaN/inf as TOML spells them) -----
def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def _val(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_val(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_val(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def dumps(doc: dict) -> str:
    out = [f"{_key(k)} = {_val(v)}" for k, v in doc.items()
           if not isinstance(v, dict) and not (isinstance(v, list) and v and all(isinstance(x, dict) for x in v))]
    for k, v in doc.items():
        if isinstance(v, dict):
            out.append(f"\n[{_key(k)}]")
            out += [f"{_key(a)} = {_val(b)}" for a, b in v.items()]
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for item in v:
                out.append(f"\n[[{_key(k)}]]")
                out += [f"{_key(a)} = {_val(b)}" for a, b in item.items()]
    return "\n".join(out) + "\n"


def test_writer_round_trips_the_shipped_files():
    for doc in [*SHIPPED.values(), RIG]:
        assert tomllib.loads(dumps(doc)) == doc


# -- mutations --------------------------------------------------------------------------------
WEIRD = st.one_of(
    st.sampled_from([0, -1, 1, 10**12, -(10**12), 0.0, -0.5, 1e-9, 1e300, math.nan, math.inf, -math.inf,
                     "", "S3", "abc", "tbs", "baseline", True, False, [], {}, [1, "x"], {"x": 1}, 0.05, 250.0,
                     1000.0, 123.4, 2**63 - 1, "drug_A", "nope", " " * 3]),
    st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e4, max_value=1e4), max_size=4),
)


def _paths(doc: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


def _parent(doc: dict, path: tuple):
    node = doc
    for p in path[:-1]:
        node = node[p]
    return node


@st.composite
def mutated(draw, base: dict) -> dict:
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        op = draw(st.sampled_from(["replace", "replace", "delete", "unknown", "duplicate"]))
        if op == "replace":
            parent[path[-1]] = draw(WEIRD)
        elif op == "delete":
            del parent[path[-1]]
        elif op == "unknown":
            target = parent if isinstance(parent, dict) else doc
            target[draw(st.sampled_from(["intervall_s", "foo", "Pathway", "width_ms"]))] = draw(WEIRD)
        elif isinstance(parent, list):
            parent.insert(path[-1], copy.deepcopy(parent[path[-1]]))
    return doc


def _protocol_docs():
    return st.sampled_from(sorted(SHIPPED)).flatmap(lambda n: mutated(SHIPPED[n]))


def assert_clean(code: int, out: str, err: str, files: list[Path]) -> None:
    """Exit 0 (still valid) or 2 with every stderr line naming one of the files; no traceback."""
    assert "Traceback" not in err and "internal error" not in err, err
    assert code in (0, 2), (code, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert lines
        names = tuple(str(f) for f in files)
        for ln in lines:
            assert ln.startswith(names), ln
            assert len(ln) < 1000
    else:
        assert json.loads(out)["valid"] is True


@pytest.fixture
def no_device(monkeypatch):
    """Fail loudly if anything tries to open a device."""
    opened = []

    def refuse(*a, **k):
        opened.append(a)
        raise AssertionError("a device was opened")

    monkeypatch.setattr(rig.experiment.assemble, "make_device", refuse)
    return opened


@SETTINGS
@given(doc=_protocol_docs())
def test_mutated_protocols(doc, tmp_path_factory, capsys, no_device):
    p = tmp_path_factory.mktemp("fz") / "p.toml"
    p.write_text(dumps(doc))
    code = main(["check", str(p), "--json"])
    out, err = capsys.readouterr()
    assert_clean(code, out, err, [p])
    assert not no_device


@SETTINGS
@given(doc=mutated(RIG), name=st.sampled_from(["tbs_ltp", "two_pathway_tbs", "dhpg_ltd", "lfs_ltd"]))
def test_mutated_rig_files(doc, name, tmp_path_factory, capsys, no_device):
    r = tmp_path_factory.mktemp("fz") / "rig.toml"
    r.write_text(dumps(doc))
    proto = PROTOCOLS / f"{name}.toml"
    code = main(["check", str(proto), "--rig", str(r), "--json"])
    out, err = capsys.readouterr()
    assert_clean(code, out, err, [r, proto])
    assert not no_device


@SETTINGS
@given(raw=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode),
                     st.sampled_from([b"", b"\xef\xbb\xbf", b"\x00" * 10, b"[[phases]]\n" * 3,
                                      b"a = " + b"[" * 3000 + b"]" * 3000, "é".encode("latin-1")])))
def test_garbage_bytes(raw, tmp_path_factory, capsys, no_device):
    p = tmp_path_factory.mktemp("fz") / "g.toml"
    p.write_bytes(raw)
    code = main(["check", str(p)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert_clean(code, out, err, [p])


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(doc=_protocol_docs())
def test_run_refuses_invalid_protocols_before_opening_a_device(doc, tmp_path_factory, capsys, no_device):
    d = tmp_path_factory.mktemp("fz")
    p = d / "p.toml"
    p.write_text(dumps(doc))
    if main(["check", str(p)]) != 2:
        capsys.readouterr()
        return  # still valid: running it would start an experiment
    capsys.readouterr()
    code = main(["run", str(p), "--no-gui", "--speed", "max", "--out", str(d / "o.h5")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and str(p) in err
    assert not no_device and not (d / "o.h5").exists()


# -- structurally plausible protocols with extreme numbers: the expansion must never crash -------
def rng(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Mostly realistic values, sometimes just outside what is allowed."""
    return st.one_of(*[st.floats(lo, hi)] * 19, st.floats(lo / 100, hi * 100))


MIN, SEC, UA, HZ, MS = rng(0.01, 60), rng(0.4, 60), rng(5, 900), rng(0.2, 400), rng(0.1, 400)
PHASES = {
    "baseline": st.fixed_dictionaries({"duration_min": MIN, "interval_s": SEC},
                                      optional={"max_duration_min": MIN,
                                                "stability": st.fixed_dictionaries({"window_min": MIN})}),
    "follow_up": st.fixed_dictionaries({"duration_min": MIN, "interval_s": SEC}),
    "drug": st.fixed_dictionaries({"drug": st.sampled_from(["MPEP", "DHPG", "basimglurant"]),
                                   "concentration_uM": UA, "wash_in_min": MIN},
                                  optional={"valve": st.sampled_from(["drug_A", "drug_B", "x"])}),
    "washout": st.fixed_dictionaries({"duration_min": MIN}, optional={"drug": st.sampled_from(["MPEP", "DHPG"])}),
    "chemical": st.fixed_dictionaries({"drug": st.just("DHPG"), "concentration_uM": UA, "duration_min": MIN},
                                      optional={"valve": st.sampled_from(["drug_A", "drug_C"])}),
    "io_curve": st.fixed_dictionaries({"intensities_uA": st.lists(UA, min_size=1, max_size=5),
                                       "repeats": st.integers(1, 5), "interval_s": SEC},
                                      optional={"set_intensity": st.just({"rule": "percent_of_max",
                                                                          "percent": 40.0})}),
    "paired_pulse": st.fixed_dictionaries({"intervals_ms": st.lists(MS, min_size=1, max_size=4),
                                           "repeats": st.integers(1, 3), "interval_s": SEC}),
    "tbs": st.fixed_dictionaries({"pattern": st.just("tbs"), "pathway": st.sampled_from(["S1", "S2"]),
                                  "pulses_per_burst": st.integers(1, 50), "intra_burst_hz": HZ,
                                  "bursts": st.integers(1, 50), "burst_interval_ms": MS,
                                  "trains": st.integers(1, 5), "train_interval_s": SEC}),
    "hfs": st.fixed_dictionaries({"pattern": st.just("hfs"), "pathway": st.just("S1"),
                                  "pulses": st.integers(1, 2000), "frequency_hz": HZ,
                                  "trains": st.integers(1, 5), "train_interval_s": SEC}),
    "lfs": st.fixed_dictionaries({"pattern": st.just("lfs"), "pathway": st.just("S1"),
                                  "pulses": st.integers(1, 2000), "frequency_hz": rng(0.1, 20)}),
    "pp_lfs": st.fixed_dictionaries({"pattern": st.just("pp_lfs"), "pathway": st.just("S1"),
                                     "pairs": st.integers(1, 2000), "pair_interval_ms": MS,
                                     "frequency_hz": rng(0.1, 20)}),
}


@st.composite
def plausible_protocol(draw) -> dict:
    phases = []
    for kind in draw(st.lists(st.sampled_from(sorted(PHASES)), min_size=1, max_size=5)):
        ph = dict(draw(PHASES[kind]))
        ph["kind"] = "induction" if kind in ("tbs", "hfs", "lfs", "pp_lfs") else kind
        phases.append(ph)
    stim = {"pathways": draw(st.sampled_from([["S1"], ["S1", "S2"]])), "intensity_uA": [draw(UA)],
            "width_us": draw(st.sampled_from([50.0, 100.0, 150.0, 500.0, 120.0])),
            "biphasic": draw(st.booleans()), "sweep_pre_ms": draw(rng(1, 50)), "sweep_post_ms": draw(rng(5, 200))}
    return {"experiment": {"name": "fuzz"}, "stimulation": stim, "phases": phases}


@SETTINGS
@given(doc=plausible_protocol())
def test_plausible_protocols_with_extreme_numbers(doc, tmp_path_factory, capsys, no_device):
    p = tmp_path_factory.mktemp("fz") / "p.toml"
    p.write_text(dumps(doc))
    code = main(["check", str(p), "--json"])
    out, err = capsys.readouterr()
    assert_clean(code, out, err, [p])
