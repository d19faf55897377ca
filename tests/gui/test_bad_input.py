"""Bad input is shown where it happens: every skipped file with its reason, on the Data page."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import TIMEOUT_MS

from kiln_lab.gui.dialogs.error_dialog import ErrorDialog

SHOTS = Path(os.environ["KILN_SHOTS"]) if os.environ.get("KILN_SHOTS") else None  # look at the page by eye


def error_dialogs(win) -> list[ErrorDialog]:
    return [d for d in win.findChildren(ErrorDialog) if d.isVisible()]


def broken_folder(root: Path) -> Path:
    for name in ("cats", "dogs"):
        (root / name).mkdir(parents=True)
        (root / name / f"{name}_1.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
        (root / name / f"{name}_2.jpg").write_bytes(b"")
    return root


def test_a_folder_of_unreadable_images_lists_every_file_on_the_data_page(qtbot, window, load_demo, tmp_path):
    load_demo(window)  # an earlier dataset: its problems must not be what the page shows after
    window.open_dataset(str(broken_folder(tmp_path / "broken")))
    qtbot.waitUntil(lambda: bool(error_dialogs(window)), timeout=TIMEOUT_MS)
    dialog = error_dialogs(window)[0]
    assert "could be read" in dialog.sentence_label.text()
    details = dialog.details.toPlainText()
    assert "Traceback" not in details and "zero bytes (the file is empty)" in details
    page = window.data_page
    assert page.stack.currentWidget() is page.start and page.failure.isVisible()
    tree = page.failure.tree
    rows = {tree.topLevelItem(i).text(0): tree.topLevelItem(i).text(1) for i in range(tree.topLevelItemCount())}
    assert len(rows) == 4
    assert rows["cats/cats_2.jpg"] == "zero bytes (the file is empty)"
    assert rows["dogs/dogs_1.png"].startswith("not an image")
    dialog.close()
    if SHOTS:
        window.grab().save(str(SHOTS / "data_page_broken.png"))


def test_a_single_broken_png_is_named_as_a_broken_image(qtbot, window, tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    window.open_path(str(path))
    qtbot.waitUntil(lambda: bool(error_dialogs(window)), timeout=TIMEOUT_MS)
    sentence = error_dialogs(window)[0].sentence_label.text()
    assert "photo.png is a broken image" in sentence and "data file type" not in sentence
    assert window.data_page.failure.tree.topLevelItemCount() == 1
