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


FAKE_PIP_AUDIT = """
import json, sys
pins = [line.strip() for line in open(sys.argv[sys.argv.index("--requirement") + 1]) if line.strip()]
open({record!r}, "w").write("\\n".join(pins))
mode = {mode!r}
if mode == "crash":
    sys.stderr.write("requests.exceptions.ConnectionError: Failed to resolve 'pypi.org'\\n")
    sys.exit(1)
deps = []
for pin in pins:
    name, version = pin.split("==")
    if mode == "unreachable":
        deps.append({{"name": name, "skip_reason": "Connection error: pypi.org could not be reached"}})
    else:
        vuln = {{"id": "PYSEC-1", "fix_versions": ["99"], "aliases": [], "description": "x"}}
        vulns = [vuln] if name == "numpy" else []
        deps.append({{"name": name, "version": version, "vulns": vulns}})
print(json.dumps({{"dependencies": deps, "fixes": []}}))
sys.exit(1 if mode == "vulnerable" else 0)
"""


def _fake_pip_audit(tmp_path: Path, mode: str) -> tuple[list[str], Path]:
    record = tmp_path / f"pins-{mode}.txt"
    script = tmp_path / f"pip_audit_{mode}.py"
    script.write_text(FAKE_PIP_AUDIT.format(record=str(record), mode=mode))
    return [sys.executable, str(script)], record


def test_online_audit_hands_pip_audit_this_environment_pinned(tmp_path: Path, monkeypatch, capsys) -> None:
    from importlib import metadata

    command, record = _fake_pip_audit(tmp_path, "vulnerable")
    monkeypatch.setattr(audit, "pip_audit_command", lambda: command)
    assert audit.main([]) == 1
    pins = set(record.read_text().splitlines())
    # the packages installed here, at their versions (not the standard library's zip)
    assert f"numpy=={metadata.version('numpy')}" in pins and f"keras=={metadata.version('keras')}" in pins
    assert len(pins) >= len(audit.installed_packages()) - len(audit.local_packages()) > 20
    out = capsys.readouterr().out
    assert "numpy" in out and "PYSEC-1" in out and "1 known vulnerability found" in out


def test_online_audit_that_could_not_reach_its_service_fails(tmp_path: Path, monkeypatch, capsys) -> None:
    for mode in ("unreachable", "crash"):
        command, _ = _fake_pip_audit(tmp_path, mode)
        monkeypatch.setattr(audit, "pip_audit_command", lambda command=command: command)
        assert audit.main([]) == 2, mode
        captured = capsys.readouterr()
        assert "No known vulnerabilities" not in captured.out and "0 known vulnerabilities" not in captured.out
        assert "could not" in captured.err
    monkeypatch.setattr(audit, "pip_audit_command", lambda: None)
    assert audit.main([]) == 2 and "pip install pip-audit" in capsys.readouterr().err


def test_a_copied_database_is_dated_by_its_advisories_not_its_file_times(tmp_path: Path) -> None:
    _advisory(tmp_path, "keras", "K-1", [{"introduced": "0"}, {"fixed": "3.13.2"}])
    advisory = tmp_path / "vulns" / "keras" / "K-1.json"
    advisory.write_text(json.dumps({**json.loads(advisory.read_text()), "modified": "2024-03-01T10:00:00Z"}))
    (tmp_path / "vulns" / "keras" / "K-2.yaml").write_text("id: K-2\nmodified: '2023-12-31T00:00:00Z'\n")
    assert audit.database_date(tmp_path) == "2024-03-01"  # the files were written today
