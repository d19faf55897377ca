"""Every page fits at 1280x800 and at the window's minimum size: no clipped text, no cut controls.

The checks read the laid-out widgets, the way a person's eye would:
- a label, button or check box narrower than its text (its text is cut or elided);
- a table or tree cell narrower than its text (Qt elides it to "mod…"), header labels too;
- an input control only partly inside the visible area of its ancestors (cut at an edge),
  or hidden inside a scroll area that is itself inside a scroll area (below a nested fold);
- a sideways scrollbar on a page's scroll area.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QTableView,
    QToolBar,
    QTreeView,
    QWidget,
)

from tests.gui.conftest import TIMEOUT_MS, small_scratch_model

# Pages another change is re-laying out right now: their problems are reported (xfail), not failed.
# Remove a name once its page has landed; the test then holds it to the same standard.
PAGES_IN_PROGRESS: set[str] = set()
CONTROLS = (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit)
SLACK = 2  # pixels of rounding


def _showing(widget: QWidget, root: QWidget) -> bool:
    return widget.isVisibleTo(root) and widget.isVisible() and widget.width() > 0 and widget.height() > 0


def _inside_toolbar(widget: QWidget) -> bool:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QToolBar) or type(parent).__name__ in ("QTabBar", "QScrollBar"):
            return True
        parent = parent.parentWidget()
    return False


def _scroll_areas_above(widget: QWidget) -> list[QScrollArea]:
    areas = []
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QScrollArea):
            areas.append(parent)
        parent = parent.parentWidget()
    return areas


def _name(widget: QWidget) -> str:
    text = widget.text() if hasattr(widget, "text") and callable(widget.text) else ""
    owner = widget.parentWidget()
    chain = []
    while owner is not None and len(chain) < 3:
        chain.append(type(owner).__name__)
        owner = owner.parentWidget()
    return f"{type(widget).__name__}({text!r}) in {'/'.join(chain)}"


def text_problems(page: QWidget) -> list[str]:
    """Labels, buttons and check boxes whose text does not fit them."""
    problems = []
    for label in page.findChildren(QLabel):
        if not _showing(label, page) or label.wordWrap() or not label.text() or label.pixmap() is not None:
            continue
        if label.textFormat() != label.textFormat().PlainText and "<" in label.text():
            continue  # rich text lays itself out
        needed = max(label.fontMetrics().horizontalAdvance(line) for line in label.text().splitlines() or [""])
        if needed > label.contentsRect().width() + SLACK:
            problems.append(f"{_name(label)}: text needs {needed}px, has {label.contentsRect().width()}px")
    for button in page.findChildren(QAbstractButton):
        if not isinstance(button, (QPushButton, QCheckBox, QRadioButton)) or not button.text():
            continue
        if not _showing(button, page) or _inside_toolbar(button):
            continue
        if button.sizeHint().width() > button.width() + SLACK:
            problems.append(f"{_name(button)}: needs {button.sizeHint().width()}px, has {button.width()}px")
    return problems


def cell_problems(page: QWidget) -> list[str]:
    """Table and tree cells (and header labels) that Qt elides because the column is too narrow;
    the rows of an expanded tree branch (a comparison's runs) count, with their indentation."""
    problems = []
    for view in page.findChildren(QAbstractItemView):
        if not isinstance(view, (QTableView, QTreeView)) or not _showing(view, page):
            continue
        header = view.horizontalHeader() if isinstance(view, QTableView) else view.header()
        metrics = view.fontMetrics()
        model = view.model()
        rows = _shown_rows(view, model)
        for column in range(model.columnCount()):
            if header.isSectionHidden(column):
                continue
            width = header.sectionSize(column)
            title = str(model.headerData(column, header.orientation()) or "")
            if title and header.fontMetrics().horizontalAdvance(title) + 6 > width + SLACK:
                problems.append(f"{type(view).__name__} header {title!r}: column {width}px is too narrow")
            for row, parent, depth in rows:
                text = str(model.index(row, column, parent).data() or "")
                indent = 0
                if isinstance(view, QTreeView) and column == 0:
                    indent = view.indentation() * (depth + (1 if view.rootIsDecorated() else 0))
                if text and metrics.horizontalAdvance(text) + 8 + indent > width + SLACK:
                    problems.append(f"{type(view).__name__} cell {text!r} in column {title!r}: {width}px")
                    break
    return problems


def _shown_rows(view: QAbstractItemView, model) -> list[tuple[int, QModelIndex, int]]:
    """(row, parent, depth) of the first 50 rows a person sees: top-level rows and open branches."""
    rows: list[tuple[int, QModelIndex, int]] = []

    def walk(parent: QModelIndex, depth: int) -> None:
        for row in range(model.rowCount(parent)):
            if len(rows) >= 50:
                return
            rows.append((row, parent, depth))
            index = model.index(row, 0, parent)
            if isinstance(view, QTreeView) and view.isExpanded(index):
                walk(index, depth + 1)

    walk(QModelIndex(), 0)
    return rows


def placement_problems(page: QWidget) -> list[str]:
    """Controls cut at an edge, or hidden below the fold of a nested scroll area; sideways scrollbars."""
    problems = []
    for control in page.findChildren(QWidget):
        if not isinstance(control, CONTROLS) or not _showing(control, page) or _inside_toolbar(control):
            continue
        if isinstance(control, QAbstractButton) and isinstance(control.parentWidget(), QAbstractSpinBox):
            continue
        if isinstance(control.parentWidget(), QComboBox) or isinstance(control, QHeaderView):
            continue
        visible = control.visibleRegion().boundingRect()
        full = control.rect()
        areas = _scroll_areas_above(control)
        if visible.isEmpty():
            if len(areas) >= 2:
                problems.append(f"{_name(control)}: hidden inside a scroll area within a scroll area")
            elif not areas:
                problems.append(f"{_name(control)}: outside its parent's visible area")
            continue
        cut_wide = visible.width() + SLACK < full.width()
        cut_high = visible.height() + SLACK < full.height()
        scrolls_down = bool(areas) and areas[0].verticalScrollBar().isVisible()
        if cut_wide or (cut_high and not scrolls_down):
            problems.append(
                f"{_name(control)}: shows {visible.width()}x{visible.height()} of {full.width()}x{full.height()}"
            )
    for area in page.findChildren(QScrollArea):
        if _showing(area, page) and area.horizontalScrollBar().isVisible():
            problems.append(f"{type(area.widget()).__name__} scrolls sideways in {_name(area.parentWidget())}")
    return problems


def page_problems(window, page: QWidget) -> list[str]:
    window.go_to(page)
    for _ in range(5):
        window.repaint()
        from PySide6.QtWidgets import QApplication

        QApplication.processEvents()
    return text_problems(page) + cell_problems(page) + placement_problems(page)


@pytest.mark.slow
def test_every_page_fits_at_both_sizes(qtbot, window, load_demo, train):
    load_demo(window)
    small_scratch_model(window)
    train(window, epochs=1)
    window.go_to("evaluate")
    qtbot.waitUntil(lambda: window.session.evaluation is not None, timeout=TIMEOUT_MS)
    # The drift tab as a finished fine-tuning run leaves it: figures, a warning, the roll-back row.
    from engine.events import DriftMeasured

    drift = window.train_page.plots.drift_view
    for epoch, cka in ((-1, 1.0), (0, 0.95), (1, 0.8)):
        drift.add(DriftMeasured(epoch, cka, 0.9, 0.98))
    drift.show_warning("Forgetting after epoch 2: the backbone drifted.", window.session.config.model)
    drift.offer_roll_back([1, 2], 1)
    window.train_page.plots.show_drift()
    found = {}
    for size in ((1280, 800), (window.minimumWidth(), window.minimumHeight())):
        window.resize(*size)
        qtbot.waitUntil(lambda s=size: (window.width(), window.height()) == s, timeout=5_000)
        for spec, page in zip(window.page_specs, window.pages):
            problems = page_problems(window, page)
            if problems:
                found[f"{spec.name} at {size[0]}x{size[1]}"] = problems
    report = "\n".join(f"{where}:\n  " + "\n  ".join(p) for where, p in found.items())
    if found and all(where.split()[0] in PAGES_IN_PROGRESS for where in found):
        pytest.xfail("only pages being reworked elsewhere still clip:\n" + report)
    assert not found, report
