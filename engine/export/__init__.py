"""Saving and exporting models, atomically, with a run record beside them."""

from engine.export.save import EXPORT_FORMATS, load_model, save_model, save_run

__all__ = ["EXPORT_FORMATS", "load_model", "save_model", "save_run"]
