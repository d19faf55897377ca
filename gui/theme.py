"""Light and dark themes: a Fusion palette, a little style sheet, and matching plot colours.

"system" follows the desktop's colour scheme (Qt's style hints) and switches live when the
desktop does. Plots are pyqtgraph widgets that do not read the Qt palette, so they ask
:func:`plot_colors` and re-style themselves on :data:`theme_changes`.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class PlotColors:
    background: str
    foreground: str
    grid_alpha: float
    curves: tuple[str, ...]  # train, validation, batch, lr, ... in that order
    overlay: str  # earlier runs


LIGHT_PLOTS = PlotColors(
    "#ffffff", "#33373d", 0.25, ("#1f77b4", "#e4572e", "#9bbbd6", "#2a9d55", "#8e44ad", "#d4a017"), "#b8bcc4"
)
DARK_PLOTS = PlotColors(
    "#1e2126", "#c9ced6", 0.2, ("#5aa9e6", "#ff7b54", "#3d5a75", "#5fd38d", "#c08fe0", "#f2c14e"), "#5c626c"
)

ACCENT = "#2f7de1"


class _ThemeChanges(QObject):
    changed = Signal(bool)  # True when dark


theme_changes = _ThemeChanges()
_current_dark = False


def is_dark() -> bool:
    return _current_dark


def plot_colors() -> PlotColors:
    return DARK_PLOTS if _current_dark else LIGHT_PLOTS


def system_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication, theme: str) -> bool:
    """Apply "light", "dark" or "system"; returns True when the result is dark."""
    global _current_dark
    dark = system_prefers_dark() if theme == "system" else theme == "dark"
    app.setStyle("Fusion")
    app.setPalette(_dark_palette() if dark else _light_palette())
    app.setStyleSheet(_style_sheet(dark))
    _current_dark = dark
    theme_changes.changed.emit(dark)
    return dark


def _light_palette() -> QPalette:
    p = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#f3f4f6",
        QPalette.ColorRole.WindowText: "#1d2025",
        QPalette.ColorRole.Base: "#ffffff",
        QPalette.ColorRole.AlternateBase: "#f6f7f9",
        QPalette.ColorRole.ToolTipBase: "#fffbe6",
        QPalette.ColorRole.ToolTipText: "#1d2025",
        QPalette.ColorRole.Text: "#1d2025",
        QPalette.ColorRole.Button: "#f8f9fa",
        QPalette.ColorRole.ButtonText: "#1d2025",
        QPalette.ColorRole.BrightText: "#d62828",
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: ACCENT,
        QPalette.ColorRole.PlaceholderText: "#8a9099",
        QPalette.ColorRole.Mid: "#c9cdd3",
        QPalette.ColorRole.Midlight: "#e3e6ea",
        QPalette.ColorRole.Dark: "#a0a6ae",
    }
    for role, color in colors.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#9aa0a8"))
    return p


def _dark_palette() -> QPalette:
    p = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#25282d",
        QPalette.ColorRole.WindowText: "#e3e6ea",
        QPalette.ColorRole.Base: "#1b1d21",
        QPalette.ColorRole.AlternateBase: "#2a2d33",
        QPalette.ColorRole.ToolTipBase: "#30343a",
        QPalette.ColorRole.ToolTipText: "#e3e6ea",
        QPalette.ColorRole.Text: "#e3e6ea",
        QPalette.ColorRole.Button: "#30343a",
        QPalette.ColorRole.ButtonText: "#e3e6ea",
        QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#6aa8f0",
        QPalette.ColorRole.PlaceholderText: "#7d838c",
        QPalette.ColorRole.Mid: "#454a52",
        QPalette.ColorRole.Midlight: "#3a3e45",
        QPalette.ColorRole.Dark: "#15171a",
    }
    for role, color in colors.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6c727b"))
    return p


def _style_sheet(dark: bool) -> str:
    # Only what the palette cannot say: the sidebar, page titles, cards and the primary button.
    sidebar_bg = "#1b1d21" if dark else "#e8eaee"
    sidebar_sel = "#2f3440" if dark else "#ffffff"
    muted = "#9aa0a8" if dark else "#5d646e"
    card = "#2a2d33" if dark else "#ffffff"
    border = "#3a3e45" if dark else "#d9dce1"
    return f"""
    QListWidget#Sidebar {{ background: {sidebar_bg}; border: none; padding: 8px 6px; font-size: 10.5pt; }}
    QListWidget#Sidebar::item {{ padding: 9px 10px; border-radius: 6px; margin: 1px 0; }}
    QListWidget#Sidebar::item:selected {{ background: {sidebar_sel}; color: palette(text);
        border-left: 3px solid {ACCENT}; }}
    QLabel[role="title"] {{ font-size: 15pt; font-weight: 600; }}
    QLabel[role="subtitle"] {{ color: {muted}; }}
    QLabel[role="muted"] {{ color: {muted}; }}
    QLabel[role="big-number"] {{ font-size: 16pt; font-weight: 600; }}
    QFrame[role="card"] {{ background: {card}; border: 1px solid {border}; border-radius: 8px; }}
    QGroupBox {{ font-weight: 600; border: 1px solid {border}; border-radius: 8px; margin-top: 14px;
        padding: 10px 8px 8px 8px; background: {card}; }}
    QGroupBox::title {{ subcontrol-origin: margin; left: 10px; padding: 0 4px; }}
    QPushButton[role="primary"] {{ background: {ACCENT}; color: white; border: 1px solid {ACCENT};
        border-radius: 5px; padding: 5px 14px; font-weight: 600; }}
    QPushButton[role="primary"]:disabled {{ background: {border}; border-color: {border}; color: {muted}; }}
    QPushButton[role="primary"]:hover {{ background: #3b8af0; }}
    QStatusBar QLabel {{ padding: 0 6px; }}
    {_radio_sheet(dark)}
    """


def _radio_sheet(dark: bool) -> str:
    """Dark theme: radio buttons drawn with a light ring and an accent dot.

    Fusion draws the ring a shade darker than the window, which on a dark window is nearly
    black: a chosen and an unchosen path looked alike. Light keeps Fusion's own drawing.
    """
    if not dark:
        return ""
    ring, ring_off, fill = "#aab1bb", "#5c626c", "#1b1d21"
    dot = (f"qradialgradient(cx:0.5, cy:0.5, radius:0.5, fx:0.5, fy:0.5, stop:0 {ACCENT}, stop:0.55 {ACCENT}, "
           f"stop:0.6 {fill}, stop:1 {fill})")
    dot_off = dot.replace(ACCENT, ring_off)
    return f"""
    QRadioButton::indicator {{ width: 12px; height: 12px; border-radius: 8px; border: 2px solid {ring};
        background: {fill}; }}
    QRadioButton::indicator:hover {{ border-color: #d5dae1; }}
    QRadioButton::indicator:checked {{ border-color: {ACCENT}; background: {dot}; }}
    QRadioButton::indicator:disabled {{ border-color: {ring_off}; }}
    QRadioButton::indicator:checked:disabled {{ border-color: {ring_off}; background: {dot_off}; }}
    """
