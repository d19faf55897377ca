"""The offline vulnerability audit matches OSV ranges the way OSV defines them."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("audit_dependencies", ROOT / "scripts" / "audit_dependencies.py")
audit = importlib.util.module_from_spec(spec)
sys.modules["audit_dependencies"] = audit  # dataclasses look their module up while being made
spec.loader.exec_module(audit)


def _advisory(folder: Path, package: str, ident: str, events: list[dict], versions: list[str] = ()) -> None:
    (folder / "vulns" / package).mkdir(parents=True, exist_ok=True)
    body = {
        "id": ident,
        "aliases": [f"CVE-{ident}"],
        "summary": "a test advisory",
        "affected": [{"package": {"ecosystem": "PyPI", "name": package},
                      "ranges": [{"type": "ECOSYSTEM", "events": events}], "versions": list(versions)}],
    }
    (folder / "vulns" / package / f"{ident}.json").write_text(json.dumps(body))


def test_ranges_follow_osv_semantics() -> None:
    affected = {"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.4.2"}]}]}
    assert audit.affects(affected, Version("1.2"))
    assert not audit.affects(affected, Version("1.4.2"))
    assert not audit.affects(affected, Version("0.9"))
    last = {"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"last_affected": "2.0"}]}]}
    assert audit.affects(last, Version("2.0")) and not audit.affects(last, Version("2.0.1"))


def test_offline_audit_finds_only_the_installed_affected_versions(tmp_path: Path) -> None:
    _advisory(tmp_path, "keras", "K-1", [{"introduced": "0"}, {"fixed": "3.13.2"}])
    _advisory(tmp_path, "Pillow", "P-1", [{"introduced": "0"}, {"fixed": "10.0.0"}])
    _advisory(tmp_path, "numpy", "N-1", [], versions=["1.26.0"])
    packages = {"keras": "3.13.1", "pillow": "11.0.0", "numpy": "1.26.0", "h5py": "3.11"}
    found = {(f.package, f.advisory, f.fixed_in) for f in audit.audit_offline(tmp_path, packages)}
    assert found == {("keras", "K-1", ("3.13.2",)), ("numpy", "N-1", ())}
