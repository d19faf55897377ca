"""What a backbone is known not to do: its card's limits and its pretraining data's known biases.

Shown where a backbone is picked (the Model page) and written into every model card.
"""

from __future__ import annotations

import re
from typing import Any

# Known, published caveats of common pretraining data. Plain facts, for the model card.
_DATA_CAVEATS: tuple[tuple[str, str], ...] = (
    (r"imagenet", "ImageNet's photos over-represent North America and Western Europe, and its person "
     "categories carry known demographic and offensive-label problems (Yang et al. 2020); expect weaker "
     "features for other regions and for people. ImageNet's own terms of access are for non-commercial research."),
    (r"digits|uci", "Trained on small 8x8 handwritten digits (UCI, 1998; 43 writers): it knows digit strokes, "
     "not photographs or other scripts."),
)


def backbone_caveats(backbone: dict[str, Any] | None) -> list[str]:
    """Known limits of a backbone: the card's "Intended use and limits" bullets and its pretraining data's."""
    if not backbone:
        return []
    caveats: list[str] = []
    text = _card_text(backbone)
    section = re.search(r"##\s*Intended use and limits\s*\n(.*?)(?:\n##\s|\Z)", text, flags=re.S | re.I)
    if section:
        bullets = re.split(r"\n- ", "\n" + section.group(1).strip())
        caveats.extend(" ".join(b.split()) for b in bullets if b.strip())
    data = str(backbone.get("pretraining_data") or "")
    for pattern, caveat in _DATA_CAVEATS:
        if re.search(pattern, data, flags=re.I):
            caveats.append(caveat)
    if not data or data == "unknown":
        caveats.append("Its pretraining data is not known, so neither are the biases it carries: test it on "
                       "every group the model will meet.")
    return caveats


def _card_text(backbone: dict[str, Any]) -> str:
    from kiln_lab.engine.models.catalogue import find_entry

    for key in ("name", "handle"):
        entry = find_entry(str(backbone.get(key) or ""))
        if entry is not None:
            return entry.card_text()
    return ""
