"""The run's seed, as the CLI's ``--seed`` means it, with the split and initializer seeds in a fold.

Setting the seed sets all three (`RunConfig.with_seed`): the split, the initializers and
training. The fold sets the split seed (``data.seed``) and the initializer seed
(``model.seed``) on their own, for runs that vary one source of randomness at a time.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QToolButton, QVBoxLayout, QWidget

from kiln_lab.gui.binding import FormBinding
from kiln_lab.gui.widgets.forms import declared_spin


class SeedsPanel(QWidget):
    def __init__(self, session: object) -> None:
        super().__init__()
        self.binding = FormBinding(session, self)
        self.seed_spin = declared_spin("train.seed", note="As kiln --seed")
        self.fold_button = QToolButton()
        self.fold_button.setText("Separate seeds")
        self.fold_button.setCheckable(True)
        self.fold_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.fold_button.setArrowType(Qt.ArrowType.RightArrow)
        self.fold_button.setToolTip("Set the split seed and the initializer seed on their own")
        self.split_seed_spin = declared_spin("data.seed")
        self.init_seed_spin = declared_spin("model.seed")
        self.fold = QWidget()
        fold_form = QFormLayout(self.fold)
        fold_form.setContentsMargins(12, 0, 0, 0)
        fold_form.addRow("Split", self.split_seed_spin)
        fold_form.addRow("Initializer", self.init_seed_spin)
        self.fold.setVisible(False)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.seed_spin, 1)
        row.addWidget(self.fold_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.fold)
        self.fold_button.toggled.connect(self._on_fold)

        self.binding.bind("train.seed", self.seed_spin, apply=lambda config, seed: config.with_seed(seed))
        self.binding.bind("data.seed", self.split_seed_spin)
        self.binding.bind("model.seed", self.init_seed_spin)
        session.config_changed.connect(self._open_when_seeds_differ)
        self._open_when_seeds_differ(session.config)

    def _on_fold(self, shown: bool) -> None:
        self.fold.setVisible(shown)
        self.fold_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _open_when_seeds_differ(self, config: object) -> None:
        """A config whose seeds differ shows them: nothing about a run is hidden."""
        if len({config.train.seed, config.data.seed, config.model.seed}) > 1 and not self.fold_button.isChecked():
            self.fold_button.setChecked(True)
