"""The Data page before any data is loaded: open a folder or file, a demo, or a recent dataset."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiln_lab.gui.widgets.forms import muted_label, title_label


class StartPanel(QWidget):
    """Shown before any data is loaded: what to do first."""

    open_folder = Signal()
    open_file = Signal()
    load_source = Signal(str)
    demo_backbone = Signal()

    def __init__(self) -> None:
        super().__init__()
        from kiln_lab.engine.data.demo_names import DEMOS

        outer = QVBoxLayout(self)
        outer.setContentsMargins(48, 36, 48, 36)
        outer.setSpacing(14)
        outer.addWidget(title_label("Train from scratch, or fine-tune?"))
        outer.addWidget(
            muted_label(
                "Start with data. Drop a folder of images (one sub-folder per class), a CSV table, a NumPy .npz "
                "or an HDF5 file anywhere on this window, or open one. Kiln scans it, shows what it found, and then "
                "helps you pick between a model trained from scratch and a pretrained backbone."
            )
        )

        buttons = QHBoxLayout()
        folder = QPushButton("Open folder…")
        folder.setProperty("role", "primary")
        folder.setToolTip("A folder with one sub-folder of images per class (Ctrl+Shift+O)")
        folder.clicked.connect(self.open_folder)
        file = QPushButton("Open file…")
        file.setToolTip("A CSV, .npz or .h5 file (Ctrl+O)")
        file.clicked.connect(self.open_file)
        buttons.addWidget(folder)
        buttons.addWidget(file)
        buttons.addStretch(1)
        outer.addLayout(buttons)

        cards = QHBoxLayout()
        cards.setSpacing(14)
        demos = QGroupBox("Try a demo dataset")
        demo_layout = QVBoxLayout(demos)
        for name, text in DEMOS.items():
            row = QHBoxLayout()
            description = QLabel(f"<b>demo:{name}</b><br>{text}")
            description.setWordWrap(True)
            button = QPushButton("Load")
            button.setObjectName(f"demo-{name}")
            button.setToolTip(f"Load demo:{name}; it ships with Kiln and needs no network.")
            button.clicked.connect(lambda _=False, n=name: self.load_source.emit(f"demo:{n}"))
            row.addWidget(description, 1)
            row.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
            demo_layout.addLayout(row)
        demo_layout.addStretch(1)
        cards.addWidget(demos, 1)

        backbone = QGroupBox("Or see fine-tuning at once")
        backbone_layout = QVBoxLayout(backbone)
        backbone_text = QLabel(
            "Load <b>demo:digits</b> and pick Kiln's small <b>demo backbone</b>, a network pretrained on other "
            "data that ships with Kiln. Then compare it with a model trained from scratch."
        )
        backbone_text.setWordWrap(True)
        backbone_button = QPushButton("Digits + demo backbone")
        backbone_button.setObjectName("demo-backbone")
        backbone_button.setToolTip("Load demo:digits and set up fine-tuning of the demo backbone.")
        backbone_button.clicked.connect(self.demo_backbone)
        backbone_layout.addWidget(backbone_text)
        backbone_layout.addWidget(backbone_button, 0, Qt.AlignmentFlag.AlignLeft)
        backbone_layout.addStretch(1)
        cards.addWidget(backbone, 1)
        outer.addLayout(cards)

        self.recent_box = QGroupBox("Recent datasets")
        recent_layout = QVBoxLayout(self.recent_box)
        self.recent_list = QListWidget()
        self.recent_list.setToolTip("Double-click to open again.")
        self.recent_list.itemActivated.connect(lambda item: self.load_source.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.recent_list.setMaximumHeight(150)
        recent_layout.addWidget(self.recent_list)
        outer.addWidget(self.recent_box)
        outer.addStretch(1)

    def set_recent(self, sources: list[str]) -> None:
        self.recent_list.clear()
        for source in sources:
            item = QListWidgetItem(source)
            item.setData(Qt.ItemDataRole.UserRole, source)
            item.setToolTip(source)
            self.recent_list.addItem(item)
        self.recent_box.setVisible(bool(sources))
