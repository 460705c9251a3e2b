"""Regenerate the window screenshots of docs/ from real simulated runs in a real window.

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python tools/screenshots.py --size 1600x1000
    xvfb-run -s "-screen 0 1280x800x24" .venv/bin/python tools/screenshots.py --size 1280x800

(any display works; without one Qt renders offscreen). Each run is ``rig run --sim --speed max``
through :func:`rig.experiment.windowed.run_with_window`; the script only sizes the window, presses
Pause/Resume as an operator would and saves PNGs into ``docs/img/`` (``--out``):

* ``tbs-baseline-WxH.png``  protocols/tbs_ltp.toml at 15 min (baseline);
* ``tbs-held-WxH.png``      paused 30 s before the TBS: the induction is held (then resumed);
* ``tbs-end-WxH.png``       the end of the run with the RESULT;
* ``alarm-WxH.png``         the same protocol with ``--sim-fault slice-death@40min``, at 46 min;
* ``sites-WxH.png``         the grid window of a four-slice run (rigs/four_slices.toml: three
  two-pathway TBS, one baseline only; site C rehearses ``--sim-fault C:slice-death@30min``, site B
  is paused by the operator at 40 min), at 45 min.

``--readme`` also copies the 1600×1000 end shot to docs/screenshot-tbs.png (README, display.md).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rig.core.commands import Command  # noqa: E402
from rig.experiment.runner import RunOptions  # noqa: E402
from rig.experiment.windowed import run_with_window  # noqa: E402


class Director:
    """on_tick: shots at experiment times, pause/resume like an operator (main thread)."""

    def __init__(self, out: Path, size: tuple[int, int], shots: dict[str, float],
                 pause_at_s: float | None = None, resume_after_s: float = 60.0,
                 stop_after: str | None = None) -> None:
        self.out, self.size, self.shots = out, size, dict(shots)
        self.pause_at_s, self.resume_at_s = pause_at_s, None
        self.resume_after_s = resume_after_s
        self.stop_after = stop_after
        self.win = None
        self.taken: list[Path] = []

    def on_window(self, win) -> None:
        self.win = win
        win.resize(*self.size)
        win.move(0, 0)

    def shoot(self, name: str) -> None:
        from rig.display.window import save_screenshot

        self.win.tick()
        p = save_screenshot(self.win, self.out / f"{name}-{self.size[0]}x{self.size[1]}.png")
        self.taken.append(p)
        print(f"screenshot {p} at {self.win.model.elapsed_s / 60:.1f} min", file=sys.stderr)

    def on_tick(self) -> None:
        win = self.win
        if win is None or win.model.run is None:
            return
        t = win.model.elapsed_s
        if self.pause_at_s is not None and t >= self.pause_at_s:
            self.pause_at_s = None
            win.send(Command("pause", text="screenshot: hold the induction"))
            self.resume_at_s = t + self.resume_after_s
        for name, at_s in list(self.shots.items()):
            if at_s is not None and t >= at_s:
                del self.shots[name]
                self.shoot(name)
                if name == self.stop_after:
                    win.send(Command("stop", text="screenshots taken"))
        if self.resume_at_s is not None and t >= self.resume_at_s:
            self.resume_at_s = None
            win.send(Command("resume"))

    def at_end(self) -> None:
        for name in [n for n, at in self.shots.items() if at is None]:
            self.shoot(name)


def run(protocol: str, d: Director, faults: list[str] = (), theme: str = "dark") -> None:
    from PySide6 import QtCore

    opts = RunOptions(protocol=ROOT / protocol, seed=1, speed=None, force_sim=True, control=False,
                      sim_faults=list(faults), out=Path("/tmp") / f"screenshots-{d.size[0]}-{len(d.taken)}.h5")
    if opts.out.exists():
        opts.out.unlink()
    ends = []

    def on_window(win) -> None:
        d.on_window(win)
        win.close_on_stop = False

        def check() -> None:  # the run has ended: the end shot, then close as the operator would
            if win.model.stop is not None and not ends:
                ends.append(1)
                d.at_end()
                win.force_close()
        timer = QtCore.QTimer(win)
        timer.timeout.connect(check)
        timer.start(200)

    result, error, _ = run_with_window(opts, on_tick=d.on_tick, on_window=on_window, close_on_stop=False,
                                       theme=theme)
    if error is not None:
        raise error
    opts.out.unlink(missing_ok=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1600x1000", help="window size WxH")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    ap.add_argument("--readme", action="store_true", help="also update docs/screenshot-tbs.png")
    ap.add_argument("--only", choices=("tbs", "alarm", "sites"), default=None)
    ap.add_argument("--theme", choices=("dark", "light"), default="dark")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.lower().split("x"))
    a.out.mkdir(parents=True, exist_ok=True)
    if a.only in (None, "tbs"):
        d = Director(a.out, (w, h), {"tbs-baseline": 15 * 60.0, "tbs-held": 20 * 60.0 + 20, "tbs-end": None},
                     pause_at_s=19.5 * 60, resume_after_s=60.0)
        run("protocols/tbs_ltp.toml", d, theme=a.theme)
        if a.readme:
            shutil.copy(a.out / f"tbs-end-{w}x{h}.png", ROOT / "docs" / "screenshot-tbs.png")
    if a.only in (None, "alarm"):
        d = Director(a.out, (w, h), {"alarm": 46 * 60.0}, stop_after="alarm")
        run("protocols/tbs_ltp.toml", d, ["slice-death@40min"], theme=a.theme)
    if a.only in (None, "sites"):
        run_sites_shot(a.out / f"sites-{w}x{h}.png", (w, h), a.theme)
    return 0


def run_sites_shot(png: Path, size: tuple[int, int], theme: str, at_s: float = 45 * 60.0) -> None:
    """The grid window of rigs/four_slices.toml at ``at_s`` s of board time, then stop every site."""
    import tempfile

    from rig.experiment.sites_options import site_faults
    from rig.experiment.sites_windowed import run_sites_with_window
    from rig.protocol.rigfile import load_rig

    rig_path = ROOT / "rigs" / "four_slices.toml"
    rig, text = load_rig(rig_path)
    tbs = ROOT / "protocols" / "two_pathway_tbs.toml"
    protocols = {"A": tbs, "B": tbs, "C": tbs, "D": ROOT / "protocols" / "baseline_only.toml"}
    state = {"paused": False}

    def on_window(win) -> None:
        state["win"] = win
        win.resize(*size)
        win.move(0, 0)
        win.select(win.panel("B"))

    def on_tick() -> None:
        win = state.get("win")
        if win is None:
            return
        if not state["paused"] and win.elapsed_s >= 40 * 60.0:
            state["paused"] = True
            win.panel("B").act_pause()
        if win.screenshot is not None and not state.get("stopped"):
            state["stopped"] = True
            win.stop_all()

    with tempfile.TemporaryDirectory() as d:
        run_sites_with_window(rig, text, rig_path, protocols, out=Path(d) / "shot.sites.json", seed=1, speed=None,
                              control=False, faults=site_faults(rig, ["C:slice-death@30min"]), screenshot=png,
                              screenshot_at_s=at_s, on_window=on_window, on_tick=on_tick, close_on_stop=True,
                              theme=theme)
    print(f"screenshot {png}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
