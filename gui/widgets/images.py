"""NumPy image arrays (H, W, C float 0..255, as the engine's loaders return) to Qt pixmaps."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap


def array_to_qimage(array: np.ndarray) -> QImage:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4), any float/int range, to a QImage that owns its data."""
    data = np.asarray(array)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[..., 0]
    if data.dtype != np.uint8:
        data = data.astype(np.float32)
        high = float(np.nanmax(data)) if data.size else 1.0
        if high <= 1.0 + 1e-6:  # already 0..1
            data = data * 255.0
        data = np.clip(np.nan_to_num(data), 0, 255).astype(np.uint8)
    data = np.ascontiguousarray(data)
    height, width = data.shape[:2]
    if data.ndim == 2:
        image = QImage(data.data, width, height, width, QImage.Format.Format_Grayscale8)
    elif data.shape[2] == 3:
        image = QImage(data.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    elif data.shape[2] == 4:
        image = QImage(data.data, width, height, 4 * width, QImage.Format.Format_RGBA8888)
    else:
        raise ValueError(f"cannot show an image with {data.shape[2]} channels")
    return image.copy()  # detach from the NumPy buffer


def array_to_pixmap(array: np.ndarray, size: int) -> QPixmap:
    """A square-fitting pixmap; tiny images (8x8 digits) are scaled without blurring."""
    image = array_to_qimage(array)
    smooth = image.width() >= size or image.height() >= size
    mode = Qt.TransformationMode.SmoothTransformation if smooth else Qt.TransformationMode.FastTransformation
    return QPixmap.fromImage(image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, mode))
