"""Built-in demo datasets (``demo:NAME``) that need no network.

``digits`` ships as a small file; ``shapes`` and ``housing`` are generated here, the same
every time (fixed seeds), in well under a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kiln_lab.engine.data.arrays import dataset_from_arrays
from kiln_lab.engine.data.csvread import CsvTable
from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.data.demo_names import DEMOS
from kiln_lab.engine.data.tabular import dataset_from_table
from kiln_lab.engine.errors import DataError

RESOURCES = Path(__file__).resolve().parents[2] / "resources" / "demo"

SHAPE_CLASSES = ("circle", "cross", "square", "triangle")


def load_demo(
    name: str,
    *,
    val_split: float,
    test_split: float,
    seed: int,
    fitted: dict[str, Any] | None = None,
    target: str | None = None,
    task: str = "auto",
) -> Dataset:
    if name not in DEMOS:
        raise DataError(
            f"There is no demo dataset called '{name}'.", hint=f"Known demos: {', '.join('demo:' + n for n in DEMOS)}."
        )
    split = {"val_split": val_split, "test_split": test_split, "seed": seed, "fitted": fitted}
    if name == "housing":
        table = housing_table()
        return dataset_from_table(
            table, target=target or "price", task=task, source=f"demo:{name}", source_kind="demo", **split
        )
    if name == "shapes":
        x, y = shapes_arrays()
        y = np.asarray(SHAPE_CLASSES)[y]  # names, so the classes read as words
    else:
        with np.load(RESOURCES / "digits.npz") as data:
            x, y = data["x"], data["y"].astype(np.int64)
    return dataset_from_arrays(x, y, source=f"demo:{name}", source_kind="demo", **split)


def shapes_arrays(count: int = 1000, size: int = 32, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """``count`` RGB uint8 pictures of one shape each, random colours, place, size and noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(SHAPE_CLASSES)
    rng.shuffle(labels)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    rows, cols = rows[None], cols[None]
    radius = rng.uniform(0.18, 0.34, count).astype(np.float32)[:, None, None] * size
    centre_r = rng.uniform(0.0, 1.0, count).astype(np.float32)[:, None, None]
    centre_c = rng.uniform(0.0, 1.0, count).astype(np.float32)[:, None, None]
    # keep the whole shape inside the picture
    centre_r = radius + centre_r * (size - 2 * radius)
    centre_c = radius + centre_c * (size - 2 * radius)
    dr, dc = rows - centre_r, cols - centre_c

    masks = np.zeros((count, size, size), dtype=bool)
    circle, cross, square, triangle = (labels == i for i in range(4))
    masks[circle] = (dr**2 + dc**2 <= radius**2)[circle]
    bar = radius * 0.3
    masks[cross] = (((np.abs(dr) <= bar) & (np.abs(dc) <= radius)) | ((np.abs(dc) <= bar) & (np.abs(dr) <= radius)))[
        cross
    ]
    masks[square] = ((np.abs(dr) <= radius * 0.8) & (np.abs(dc) <= radius * 0.8))[square]
    # upward triangle: apex at the top, base at the bottom; |dc| shrinks towards the apex
    masks[triangle] = ((dr >= -radius) & (dr <= radius * 0.8) & (np.abs(dc) <= (dr + radius) * 0.6))[triangle]

    background = rng.uniform(0, 110, (count, 1, 1, 3))
    foreground = rng.uniform(140, 255, (count, 1, 1, 3))
    swap = rng.random(count) < 0.3  # some light backgrounds with dark shapes, so brightness is no shortcut
    background[swap], foreground[swap] = 255 - background[swap], 255 - foreground[swap]
    pictures = np.where(masks[..., None], foreground, background)
    pictures += rng.normal(0, 12, pictures.shape)
    return np.clip(pictures, 0, 255).round().astype(np.uint8), labels.astype(np.int64)


def housing_table(count: int = 600, seed: int = 11) -> CsvTable:
    """A made-up housing market: price (thousands) from size, rooms, age, distance and district."""
    rng = np.random.default_rng(seed)
    districts = np.array(["centre", "east", "north", "south", "west"])
    premium = {"centre": 120.0, "east": -10.0, "north": 25.0, "south": 0.0, "west": 40.0}
    area = rng.normal(95, 30, count).clip(25, 260)
    rooms = np.clip(np.round(area / 28 + rng.normal(0, 0.7, count)), 1, 9)
    age = rng.gamma(2.0, 15.0, count).clip(0, 120)
    distance = rng.gamma(2.0, 3.0, count).clip(0.2, 40)
    district = districts[rng.integers(0, len(districts), count)]
    garden = rng.random(count) < 0.4
    price = (
        60
        + 2.4 * area
        + 8 * rooms
        - 0.9 * age
        - 4.5 * distance
        + np.vectorize(premium.get)(district)
        + 30 * garden
        + rng.normal(0, 18, count)
    ).clip(40, None)
    age_text = [f"{a:.0f}" for a in age]
    for i in rng.choice(count, 12, replace=False):  # a few blanks, as real exports have
        age_text[i] = ""
    header = ["area_m2", "rooms", "age_years", "distance_km", "district", "garden", "price"]
    rows = [
        [f"{area[i]:.1f}", f"{rooms[i]:.0f}", age_text[i], f"{distance[i]:.2f}", str(district[i]),
         "yes" if garden[i] else "no", f"{price[i]:.1f}"]
        for i in range(count)
    ]  # fmt: skip
    return CsvTable(header=header, rows=rows, delimiter=",", encoding="utf-8")


def write_shapes_folder(root: str | Path, per_class: int = 40, *, bad_files: bool = True) -> str:
    """A folder of PNGs, one sub-folder per class, from the generated shapes demo (screenshots,
    walkthroughs); ``bad_files`` adds a text file named .png and an empty one, which a scan skips."""
    from PIL import Image

    root = Path(root)
    x, y = shapes_arrays(count=per_class * len(SHAPE_CLASSES))
    for name in SHAPE_CLASSES:
        (root / name).mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(x, y)):
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(root / SHAPE_CLASSES[label] / f"{i:04d}.png")
    if bad_files:
        (root / "circle" / "notes.png").write_bytes(b"this is not an image")
        (root / "square" / "empty.png").write_bytes(b"")
    return str(root)
