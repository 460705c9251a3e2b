"""A one-line label that never asks for more width than the window has (long messages are
elided with "…"; the whole text is in the tooltip)."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets


class ElidedLabel(QtWidgets.QLabel):
    """``setText`` keeps the full text; the label shows what fits and grows with its row only."""

    def __init__(self, text: str = "", parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        policy = QtWidgets.QSizePolicy.Policy
        self.setSizePolicy(policy.Ignored, policy.Preferred)  # width comes from the layout, not the text
        self.setMinimumWidth(40)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = str(text)
        self.setToolTip(self._full if len(self._full) > 60 else "")
        self._elide()

    def text(self) -> str:
        """The full text as set (Qt paints the elided one)."""
        return self._full

    def shown_text(self) -> str:
        """What fits and is painted."""
        return super().text()

    def _elide(self) -> None:
        shown = QtGui.QFontMetrics(self.font()).elidedText(self._full, QtCore.Qt.TextElideMode.ElideRight,
                                                           max(self.width(), 40))
        super().setText(shown)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt's name
        return QtCore.QSize(40, super().sizeHint().height())

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt's name
        return QtCore.QSize(40, super().minimumSizeHint().height())
