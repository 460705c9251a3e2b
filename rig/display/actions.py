"""The window's operator actions: buttons and shortcuts → :class:`~rig.core.commands.Command` objects
on the command queue (the controller acts on them and answers with an ``operator`` event, which
the message line shows, refusals with their reason); window dragging; re-analysis."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui, QtWidgets

from rig.core.commands import Command, post
from rig.display.panels import shown_windows_ms
from rig.display.reanalyse import reanalyse

# (action name, button text, shortcut, tooltip)
ACTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("pause", "Pause", "P", "Stop stimulating; recording continues"),
    ("resume", "Resume", "R", "Resume stimulating"),
    ("stop", "Stop…", "Ctrl+Q", "End the run (asks for confirmation)"),
    ("mark", "Mark…", "M", "Record a free-text event"),
    ("induce_now", "Induce now", "I", "End the baseline and induce (where the protocol allows)"),
    ("extend_baseline", "Extend baseline", "B", "Extend the baseline (where the protocol allows)"),
    ("intensity_up", "Intensity +", "Up", "Raise the selected pathway's test intensity"),
    ("intensity_down", "Intensity −", "Down", "Lower the selected pathway's test intensity"),
    ("reanalyse", "Re-analyse", "Ctrl+R", "Re-measure recorded sweeps with the current windows"),
    ("toggle_field", "Slope/Amp/PPR", "A", "Time course: slope, amplitude or (paired test pulses) the PPR"),
    ("toggle_theme", "Dark/Light", "T", "Switch between dark and light themes"),
)
CONFIRM_FRACTION = 0.2  # an intensity this far from the baseline intensity asks first
LIVE_ONLY = {"pause", "resume", "stop", "mark", "induce_now", "extend_baseline",
             "intensity_up", "intensity_down", "reanalyse"}


class WindowActions:
    """Mixin of :class:`~rig.display.window.RigWindow`: what the buttons and keys do."""

    # ------------------------------------------------------------------ commands
    def send(self, command: Command) -> bool:
        """Put a command on the queue (no-op in a viewer); shows it in the message line."""
        if self.commands is None or self.read_only:
            return False
        post(self.commands, command)
        for listener in self.command_listeners:
            listener(command)
        self.message.setText(f"sent: {command.cmd}")
        return True

    def _act_pause(self) -> None:
        self.send(Command("pause"))

    def _act_resume(self) -> None:
        self.send(Command("resume"))

    def _act_stop(self) -> None:
        if self.confirm("Stop the recording now?"):
            self.send(Command("stop"))

    def _act_mark(self) -> None:
        text = self.ask_text("Event text:")
        if text:
            self.send(Command("mark", text=text))

    def _act_induce_now(self) -> None:
        if self.confirm("Induce now? This ends the baseline and starts the induction; it cannot be undone."):
            self.send(Command("induce_now"))
        else:
            self.message.setText("induce now cancelled: nothing sent")

    def _act_extend_baseline(self) -> None:
        self.send(Command("extend_baseline"))

    def _intensity(self, sign: float) -> None:
        p = self.selected_pathway
        delta = sign * self.intensity_step_uA
        cur = self.model.intensity_uA.get(p)
        lo, hi = self.intensity_limits_uA
        if cur is not None:
            target = min(max(cur + delta, lo), hi)
            delta = target - cur
        if delta == 0:
            self.message.setText(f"S{p + 1} intensity at the rig limit")
            return
        base = self.model.baseline_intensity_uA.get(p)
        if cur is not None and base and abs(cur + delta - base) > CONFIRM_FRACTION * base:
            change = (cur + delta - base) / base * 100.0
            if not self.confirm(f"Set S{p + 1} to {cur + delta:.0f} µA? That is {change:+.0f} % of the baseline "
                                f"intensity ({base:.0f} µA), beyond ±{CONFIRM_FRACTION * 100:.0f} %: the "
                                "responses will no longer compare with the baseline."):
                self.message.setText(f"S{p + 1} intensity change cancelled: nothing sent")
                return
        self.send(Command("intensity", pathway=p, delta_uA=delta))

    def _act_intensity_up(self) -> None:
        self._intensity(+1.0)

    def _act_intensity_down(self) -> None:
        self._intensity(-1.0)

    def _act_reanalyse(self) -> None:
        """Re-measure the test sweeps the window holds with the windows drawn; the report goes to
        the message line and, through the ``reanalyse`` command, into the file's event log."""
        if self.read_only:
            return
        own = self.__dict__.get("pathway_windows_ms", {})  # windows dragged on one pathway's plot
        report = reanalyse(self.model, self.windows_ms, own)  # each pathway with its own windows
        self.redraw()
        self.send(Command("reanalyse", text=report.text(), data={
            "windows_ms": {k: list(v) for k, v in self.windows_ms.items()}, "sweeps": report.n_sweeps,
            **({"pathway_windows_ms": {str(p): {k: list(v) for k, v in w.items()} for p, w in own.items()}}
               if own else {})}))
        self.message.setText(report.text())  # the controller's answer follows, with the same text
        self.windows_changed = False

    def _act_toggle_field(self) -> None:
        paired = any(np.isfinite(tc["ppr"]).any() for tc in self.model.time_course.values())
        order = ("slope", "amplitude", "ppr") if paired else ("slope", "amplitude")
        f = self.time_course.field
        self.time_course.set_field(order[(order.index(f) + 1) % len(order)] if f in order else "slope")
        self.time_course._percent = None
        self.redraw()

    def _act_toggle_theme(self) -> None:
        self.apply_theme("light" if self.theme.name == "dark" else "dark")
        for sp in self.sweep_plots.values():
            sp.version = -1
        self.redraw()

    def _on_pathway_box(self, index: int) -> None:
        data = self.pathway_box.itemData(index)
        if data is not None:
            self.selected_pathway = int(data)

    def _on_step_box(self, value: float) -> None:
        self.intensity_step_uA = float(value)

    def _on_window_moved(self, name: str, region: pg.LinearRegionItem, pathway: int | None = None) -> None:
        """A measurement window of ``pathway``'s plot was dragged: send ``set_windows`` for that
        pathway (its own window; the other pathways keep theirs)."""
        a, b = (float(v) for v in region.getRegion())
        wins = self._windows_of(pathway)
        old = wins.get(name)
        if old is not None and math.isclose(old[0], a) and math.isclose(old[1], b):
            return
        if pathway is None:
            self.windows_ms[name] = (a, b)
        else:
            self.__dict__.setdefault("pathway_windows_ms", {})[pathway] = {**wins, name: (a, b)}
        for p, sp in self.sweep_plots.items():
            if pathway is None or p == pathway:
                sp.set_windows({name: (a, b)})
                sp.version = -1  # markers depend on the windows
        self.windows_changed = True
        self.send(Command("set_windows", pathway=pathway, data={
            "window": name, "old_ms": list(old) if old else None, "new_ms": [a, b]}))
        if not self.read_only:
            who = "" if pathway is None else f"S{pathway + 1} "
            self.message.setText(
                f"{who}{name} window {a:.2f}–{b:.2f} ms: applies to the next sweeps. "
                "Re-analyse the recorded ones? [Ctrl+R]")

    def _windows_of(self, pathway: int | None) -> dict[str, tuple[float, float]]:
        """The windows drawn on ``pathway``'s plot (its own once dragged or set, else the shared ones)."""
        return self.__dict__.get("pathway_windows_ms", {}).get(pathway, self.windows_ms)

    def set_windows(self, windows_ms: dict[str, tuple[float, float]]) -> None:
        """Set the windows programmatically (no command is sent)."""
        self.windows_ms.update(windows_ms)
        for sp in self.sweep_plots.values():
            sp.set_windows(windows_ms)
            sp.version = -1

    def sync_windows(self, model: object) -> None:
        """The windows in use from the model: every pathway's, then each pathway's own set."""
        self.set_windows(shown_windows_ms(model.windows))
        own = {p: shown_windows_ms(model.windows_of(p)) for p in getattr(model, "pathway_windows", {})}
        self.__dict__["pathway_windows_ms"] = {p: {**self.windows_ms, **w} for p, w in own.items()}
        for p, w in own.items():
            if p in self.sweep_plots:
                self.sweep_plots[p].set_windows(w)

    # ------------------------------------------------------------------ dialogs, closing
    def _confirm_dialog(self, question: str) -> bool:
        if QtGui.QGuiApplication.platformName() == "offscreen":
            return True  # nobody can answer a modal dialog offscreen: it would hang
        buttons = QtWidgets.QMessageBox.StandardButton
        ans = QtWidgets.QMessageBox.question(self, "LTP Rig", question, buttons.Yes | buttons.No,
                                             buttons.No)  # default No: Enter or Space never confirms
        return ans == buttons.Yes

    def _text_dialog(self, prompt: str) -> str | None:
        text, ok = QtWidgets.QInputDialog.getText(self, "LTP Rig", prompt)
        return text if ok else None

