"""Licence classification of known strings, and the export warning it drives."""

from __future__ import annotations

import pytest

from kiln_lab.engine.models.licence import (
    NO_MODIFICATION,
    NON_COMMERCIAL,
    PERMISSIVE,
    UNKNOWN,
    classify_licence,
    export_warning,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Apache-2.0", PERMISSIVE),
        ("MIT", PERMISSIVE),
        ("BSD-3-Clause", PERMISSIVE),
        ("CC BY 4.0", PERMISSIVE),
        ("CC0-1.0", PERMISSIVE),
        ("Apache-2.0 (Kiln); trained on the UCI optical digits (CC BY 4.0)", PERMISSIVE),
        ("Apache-2.0 (Keras); weights: Meta's ConvNeXt release (MIT)", PERMISSIVE),
        ("CC BY-NC 4.0", NON_COMMERCIAL),
        ("CC BY-NC-SA 4.0", NON_COMMERCIAL),
        ("For non-commercial research purposes only", NON_COMMERCIAL),
        ("Apache-2.0; weights CC BY-NC 4.0", NON_COMMERCIAL),  # the most restrictive part wins
        ("CC BY-ND 4.0", NO_MODIFICATION),
        ("GPL-3.0", NO_MODIFICATION),
        ("unknown", UNKNOWN),
        ("", UNKNOWN),
        (None, UNKNOWN),
        ("Proprietary vendor terms", UNKNOWN),
    ],
)
def test_known_licence_strings_are_classified(text, expected):
    verdict = classify_licence(text)
    assert verdict.category == expected
    assert verdict.note  # always a plain note


def test_export_warns_only_for_restricted_or_unknown_terms():
    assert export_warning("Apache-2.0") is None
    warning = export_warning("CC BY-NC 4.0")
    assert warning and "commercial" in warning
    assert "not known" in export_warning(None)
