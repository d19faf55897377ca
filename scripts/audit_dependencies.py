"""Known vulnerabilities in the installed packages: pip-audit online, or an OSV database offline.

    python scripts/audit_dependencies.py                      # pip-audit against PyPI's advisories
    python scripts/audit_dependencies.py --osv-db DIR         # offline: a clone of pypa/advisory-database
    python scripts/audit_dependencies.py --osv-db DIR --json  # machine-readable

With ``--osv-db`` (or when pip-audit cannot reach its service), every advisory file
(``vulns/<package>/*.yaml`` or ``*.json``, OSV format) is matched against the versions
installed in this interpreter's environment: an advisory applies when the installed version
is listed in ``versions`` or falls in an ``ECOSYSTEM`` range (``introduced`` <= v < ``fixed``,
or <= ``last_affected``). The database's own date is printed, because an offline database
knows nothing newer than its last update. Exit status: 0 none found, 1 found, 2 could not audit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    advisory: str
    aliases: tuple[str, ...]
    fixed_in: tuple[str, ...]
    summary: str


def installed_packages() -> dict[str, str]:
    """Canonical name -> version of every distribution in this environment."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[canonicalize_name(name)] = dist.version
    return found


def _load(path: Path) -> dict[str, Any] | None:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    import yaml  # PyYAML: only needed for the offline YAML database

    return yaml.safe_load(text)


def _version(text: Any) -> Version | None:
    try:
        return Version(str(text))
    except InvalidVersion:
        return None


def affects(affected: dict[str, Any], installed: Version) -> bool:
    if str(installed) in {str(v) for v in affected.get("versions", [])}:
        return True
    for rng in affected.get("ranges", []):
        if rng.get("type") != "ECOSYSTEM":
            continue
        inside = False
        for event in rng.get("events", []):
            if "introduced" in event:
                start = event["introduced"]
                inside = start == "0" or ((_version(start) or Version("0")) <= installed)
            elif "fixed" in event and inside:
                fixed = _version(event["fixed"])
                if fixed is not None and installed >= fixed:
                    inside = False
            elif "last_affected" in event and inside:
                last = _version(event["last_affected"])
                if last is not None and installed > last:
                    inside = False
        if inside:
            return True
    return False


def _fixed_versions(affected: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        str(event["fixed"])
        for rng in affected.get("ranges", [])
        if rng.get("type") == "ECOSYSTEM"
        for event in rng.get("events", [])
        if "fixed" in event
    )


def audit_offline(db: Path, packages: dict[str, str]) -> list[Finding]:
    vulns = db / "vulns" if (db / "vulns").is_dir() else db
    findings: list[Finding] = []
    for folder in sorted(p for p in vulns.iterdir() if p.is_dir()):
        name = canonicalize_name(folder.name)
        if name not in packages:
            continue
        installed = _version(packages[name])
        if installed is None:
            continue
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.json")]):
            advisory = _load(path) or {}
            if advisory.get("withdrawn"):
                continue
            for affected in advisory.get("affected", []):
                if canonicalize_name(affected.get("package", {}).get("name", "")) != name:
                    continue
                if affects(affected, installed):
                    findings.append(
                        Finding(
                            package=name,
                            version=str(installed),
                            advisory=str(advisory.get("id", path.stem)),
                            aliases=tuple(advisory.get("aliases", []) or []),
                            fixed_in=_fixed_versions(affected),
                            summary=_one_line(advisory.get("summary") or advisory.get("details", "")),
                        )
                    )
                    break
    return findings


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())[:200]


def database_date(db: Path) -> str:
    git = shutil.which("git")
    if git and (db / ".git").exists():
        done = subprocess.run([git, "-C", str(db), "log", "-1", "--format=%cs"], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    newest = max((p.stat().st_mtime for p in db.rglob("*.yaml")), default=0)
    import datetime

    return datetime.date.fromtimestamp(newest).isoformat() if newest else "unknown"


def audit_online() -> int | None:
    """pip-audit against PyPI; None when pip-audit is missing or cannot reach its service."""
    if shutil.which("pip-audit") is None:
        return None
    done = subprocess.run(
        ["pip-audit", "--path", *sys.path[1:2], "--progress-spinner", "off"], capture_output=True, text=True
    )
    if "ConnectionError" in done.stderr or "Failed to resolve" in done.stderr:
        return None
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--osv-db", type=Path, help="an OSV advisory folder (a clone of pypa/advisory-database)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.osv_db is None:
        status = audit_online()
        if status is not None:
            return status
        print("pip-audit is not installed or cannot reach its service; give --osv-db DIR to audit offline.",
              file=sys.stderr)
        return 2
    if not args.osv_db.is_dir():
        print(f"{args.osv_db} is not a folder of OSV advisories.", file=sys.stderr)
        return 2
    packages = installed_packages()
    findings = audit_offline(args.osv_db, packages)
    when = database_date(args.osv_db)
    if args.json:
        print(json.dumps({"database": str(args.osv_db), "database_date": when, "packages": len(packages),
                          "findings": [f.__dict__ for f in findings]}, indent=2))
    else:
        print(f"Audited {len(packages)} installed packages against {args.osv_db} (advisories up to {when}).")
        for f in findings:
            fixed = ", ".join(f.fixed_in) or "no fixed release listed"
            print(f"  {f.package} {f.version}: {f.advisory} ({', '.join(f.aliases) or 'no alias'}); fixed in {fixed}")
            print(f"    {f.summary}")
        print(f"{len(findings)} known vulnerabilit{'y' if len(findings) == 1 else 'ies'} found.")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
