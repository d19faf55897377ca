"""Kiln's desktop GUI: PySide6 + pyqtgraph over the Qt-free engine. Start with `gui.app.main`."""
