"""Licence terms of a backbone, classified in plain words.

A backbone's card carries a free-text licence ("Apache-2.0", "CC BY-NC 4.0", "MIT; trained on
ImageNet"). `classify_licence` sorts it into one of four classes with a note a person can act
on. It is a reading aid, not legal advice: the classes are what the licence names say, and
anything Kiln does not recognise is "unknown", never guessed permissive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PERMISSIVE = "permissive"
NON_COMMERCIAL = "restricts commercial use"
NO_MODIFICATION = "restricts modification"
UNKNOWN = "unknown"
CLASSES = (PERMISSIVE, NON_COMMERCIAL, NO_MODIFICATION, UNKNOWN)
# Worst first: a string naming several licences gets the most restrictive class it names.
_SEVERITY = {UNKNOWN: 3, NON_COMMERCIAL: 2, NO_MODIFICATION: 1, PERMISSIVE: 0}

# (pattern, class, note). Checked in order, on a lower-cased string; restrictive patterns
# come before the permissive ones they contain ("cc by-nc" before "cc by").
_RULES: tuple[tuple[str, str, str], ...] = (
    (r"\bnc\b|non[- ]?commercial|noncommercial|research[- ]only|academic[- ]only|not for commercial",
     NON_COMMERCIAL, "Its terms forbid commercial use: fine for research and learning, not for a product."),
    (r"openrail|\brail\b|llama|gemma terms|responsible ai licen",
     NON_COMMERCIAL, "A use-restricted licence: it lists uses that are not allowed and may cap commercial use; "
     "read it before shipping."),
    (r"\bnd\b|no[- ]?deriv|noderiv",
     NO_MODIFICATION, "Its terms forbid sharing modified versions: a fine-tuned model is a modified version."),
    (r"\bagpl|\bgpl|\blgpl|copyleft|cc[- ]?by[- ]?sa|share[- ]?alike",
     NO_MODIFICATION, "A copyleft licence: modified versions you share must carry the same licence (and, for "
     "GPL, their source)."),
    (r"apache|\bmit\b|\bbsd|\bisc\b|\bcc0\b|public domain|unlicense|zlib|cc[- ]?by\b|\bmpl|mozilla public",
     PERMISSIVE, "A permissive licence: use, modify and sell, keeping the copyright and licence notice."),
)


@dataclass(frozen=True)
class LicenceVerdict:
    """The class of a licence string and a plain note; ``restricted`` means warn before export."""

    text: str
    category: str
    note: str

    @property
    def restricted(self) -> bool:
        return self.category != PERMISSIVE

    def to_dict(self) -> dict[str, str]:
        return {"licence": self.text, "class": self.category, "note": self.note}


def classify_licence(text: str | None) -> LicenceVerdict:
    """Classify a free-text licence; several licences in one string give the most restrictive class."""
    raw = (text or "").strip()
    if not raw or raw.lower() in ("unknown", "none", "n/a", "?"):
        return LicenceVerdict(raw or "unknown", UNKNOWN, "The licence is not known: find the terms of the "
                              "backbone's weights before sharing or selling a model built on it.")
    found: list[tuple[str, str]] = []
    for part in re.split(r"[;,+/]|\band\b", raw.lower()):
        part = part.strip()
        if not part:
            continue
        for pattern, category, note in _RULES:
            if re.search(pattern, part):
                found.append((category, note))
                break
        else:
            if re.search(r"[a-z]{3,}", part) and not _is_just_context(part):
                found.append((UNKNOWN, f"Kiln does not recognise the terms '{part}': read them before sharing."))
    if not found:
        return LicenceVerdict(raw, UNKNOWN, "Kiln does not recognise this licence: read its terms before sharing.")
    category, note = max(found, key=lambda item: _SEVERITY[item[0]])
    return LicenceVerdict(raw, category, note)


def _is_just_context(part: str) -> bool:
    """Words around a licence name that are not terms of their own ("trained on the UCI digits (CC BY 4.0)")."""
    return bool(re.match(r"^(trained on|weights|model|code|data|the|kiln|\(kiln\))", part.strip("() ")))


def export_warning(licence: str | None) -> str | None:
    """The sentence shown before exporting a model on a backbone with these terms; None when permissive."""
    verdict = classify_licence(licence)
    if not verdict.restricted:
        return None
    return f"The backbone's licence is '{verdict.text}' ({verdict.category}). {verdict.note}"


def record_export_warning(record: dict | None) -> str | None:
    """The export warning for a run record: None unless the model was fine-tuned on restricted or unknown terms."""
    model = (record or {}).get("model") or {}
    if model.get("kind") != "finetune":
        return None
    return export_warning((model.get("backbone") or {}).get("licence"))
