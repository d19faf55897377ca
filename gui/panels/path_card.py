"""One of the Model page's two paths: a radio button that chooses it, over its body.

The body does not scroll on its own: the Model page scrolls as one (a scroll area inside a
scroll area hides controls below a second fold and leaves each part a sliver of the window).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFrame, QGroupBox, QRadioButton, QScrollArea, QVBoxLayout, QWidget

from kiln_lab.gui.widgets.forms import muted_label


def scrolling(body: QWidget) -> QScrollArea:
    """A page's one scroll area: its content scrolls instead of squeezing when the window is short."""
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(body)
    scroll.setStyleSheet("QScrollArea, QScrollArea > QWidget > QWidget { background: transparent; }")
    return scroll


class PathCard(QGroupBox):
    """A card with ``radio`` (choose this path) and ``body`` (its controls, greyed out when not chosen).

    Subclasses add their controls to ``self.body_layout``.
    """

    def __init__(self, title: str, tooltip: str, description: str) -> None:
        super().__init__()
        outer = QVBoxLayout(self)
        self.radio = QRadioButton(title)
        self.radio.setStyleSheet("font-size: 12pt; font-weight: 600;")
        self.radio.setToolTip(tooltip)
        outer.addWidget(self.radio)
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 6, 0)
        outer.addWidget(self.body, 1)
        self.body_layout.addWidget(muted_label(description))

    def let_combos_shrink(self, characters: int = 10) -> None:
        """Lists size to a few characters, not their longest item, so two cards fit side by side.

        The open list still shows each item in full; the tooltip says what a cut choice is.
        """
        for box in self.body.findChildren(QComboBox):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(characters)
