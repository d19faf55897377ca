"""The built-in demo datasets' names and what each is: plain words the Start page lists."""

from __future__ import annotations

DEMOS = {
    "digits": "8x8 grayscale handwritten digits 0-9, 1,797 samples (UCI, via scikit-learn).",
    "shapes": "32x32 colour pictures of circles, squares, triangles and crosses, 1,000 samples (generated).",
    "housing": "House prices from size, rooms, age, distance and district: a regression table, 600 rows (generated).",
}
