"""Known vulnerabilities in the installed packages: pip-audit online, or an OSV database offline.

    python scripts/audit_dependencies.py                      # pip-audit against PyPI's advisories
                                                              # (pip install pip-audit; needs the network)
    python scripts/audit_dependencies.py --osv-db DIR         # offline: a clone of pypa/advisory-database
    python scripts/audit_dependencies.py --osv-db DIR --json  # machine-readable

With ``--osv-db`` (or when pip-audit cannot reach its service), every advisory file
(``vulns/<package>/*.yaml`` or ``*.json``, OSV format) is matched against the versions
installed in this interpreter's environment: an advisory applies when the installed version
is listed in ``versions`` or falls in an ``ECOSYSTEM`` range (``introduced`` <= v < ``fixed``,
or <= ``last_affected``). The database's own date is printed, because an offline database
knows nothing newer than its last update: its last commit for a git clone, else the newest
``modified`` date its advisories carry (file times say when it was copied, not what it knows).

Online, pip-audit is handed this interpreter's installed distributions as exact pins
(``name==version``, ``--no-deps --disable-pip``), so it audits this environment whatever
environment pip-audit itself is installed in. A package it could not audit (service
unreachable, not on PyPI) makes the audit incomplete: exit status 2, never "no vulnerabilities".
Distributions installed from a local folder (this project, editable installs) are not on PyPI
and are listed as not audited without failing the run.
Exit status: 0 none found, 1 found, 2 could not audit.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
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


def local_packages() -> set[str]:
    """Canonical names of distributions installed from a local folder (editable or not): not on PyPI."""
    local: set[str] = set()
    for dist in metadata.distributions():
        text = dist.read_text("direct_url.json")
        if not text or not dist.metadata["Name"]:
            continue
        try:
            origin = json.loads(text)
        except ValueError:
            continue
        if "dir_info" in origin:
            local.add(canonicalize_name(dist.metadata["Name"]))
    return local


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


_MODIFIED = re.compile(r"""(?:^|[{,\s])"?modified"?\s*:\s*["']?(\d{4}-\d\d-\d\d)""", re.MULTILINE)


def database_date(db: Path) -> str:
    """What the database knows up to: its last commit, or the newest ``modified`` date of an advisory."""
    git = shutil.which("git")
    if git and (db / ".git").exists():
        done = subprocess.run([git, "-C", str(db), "log", "-1", "--format=%cs"], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    # Not a clone (a copied or unpacked folder): the file times say when it was copied. Each OSV
    # advisory carries its own `modified` date; the newest is the latest the database can know.
    newest = ""
    for path in [*db.rglob("*.yaml"), *db.rglob("*.json")]:
        found = _MODIFIED.search(path.read_text(encoding="utf-8", errors="replace"))
        if found and found.group(1) > newest:
            newest = found.group(1)
    return newest or "unknown"


@dataclass(frozen=True)
class OnlineAudit:
    """What pip-audit said about the pinned packages."""

    findings: list[Finding]
    audited: int
    not_audited: dict[str, str]  # package -> why
    local: list[str]  # installed from a folder: not on PyPI, so not asked about


def pip_audit_command() -> list[str] | None:
    """pip-audit in this interpreter (``python -m pip_audit``), else the one on PATH; None if neither."""
    if importlib.util.find_spec("pip_audit") is not None:
        return [sys.executable, "-m", "pip_audit"]
    found = shutil.which("pip-audit")
    return [found] if found else None


def audit_online(packages: dict[str, str], local: set[str], command: list[str]) -> OnlineAudit:
    """Ask pip-audit about exactly ``packages`` (pinned), except the ``local`` ones.

    Raises `RuntimeError` with pip-audit's own words when it gave no report at all.
    """
    pins = {name: version for name, version in packages.items() if name not in local}
    with tempfile.TemporaryDirectory() as folder:
        requirements = Path(folder) / "installed.txt"
        requirements.write_text("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
        done = subprocess.run(
            [*command, "--requirement", str(requirements), "--no-deps", "--disable-pip",
             "--format", "json", "--progress-spinner", "off"],
            capture_output=True, text=True,
        )
    try:
        report = json.loads(done.stdout)
    except ValueError:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise RuntimeError(last[:300]) from None
    dependencies = report.get("dependencies", []) if isinstance(report, dict) else report
    findings: list[Finding] = []
    not_audited: dict[str, str] = {}
    audited = 0
    for dependency in dependencies:
        name = canonicalize_name(str(dependency.get("name", "")))
        if "skip_reason" in dependency:
            not_audited[name] = _one_line(dependency["skip_reason"])
            continue
        audited += 1
        for vuln in dependency.get("vulns", []):
            findings.append(
                Finding(
                    package=name,
                    version=str(dependency.get("version", "")),
                    advisory=str(vuln.get("id", "")),
                    aliases=tuple(vuln.get("aliases", []) or []),
                    fixed_in=tuple(vuln.get("fix_versions", []) or []),
                    summary=_one_line(vuln.get("description", "")),
                )
            )
    # A pinned package pip-audit did not mention at all was not audited either.
    for name in pins:
        if name not in not_audited and not any(canonicalize_name(str(d.get("name", ""))) == name
                                               for d in dependencies):
            not_audited[name] = "not in pip-audit's report"
    return OnlineAudit(findings, audited, not_audited, sorted(local & set(packages)))


def _print_findings(findings: list[Finding]) -> None:
    for f in findings:
        fixed = ", ".join(f.fixed_in) or "no fixed release listed"
        print(f"  {f.package} {f.version}: {f.advisory} ({', '.join(f.aliases) or 'no alias'}); fixed in {fixed}")
        print(f"    {f.summary}")


def _main_online(as_json: bool) -> int:
    command = pip_audit_command()
    if command is None:
        print("pip-audit is not installed: pip install pip-audit, or give --osv-db DIR to audit offline.",
              file=sys.stderr)
        return 2
    packages = installed_packages()
    try:
        result = audit_online(packages, local_packages(), command)
    except RuntimeError as exc:
        print(f"pip-audit could not audit this environment ({exc}); give --osv-db DIR to audit offline.",
              file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps({"service": "pip-audit", "packages": len(packages), "audited": result.audited,
                          "not_audited": result.not_audited, "local": result.local,
                          "findings": [f.__dict__ for f in result.findings]}, indent=2))
    else:
        print(f"Audited {result.audited} of {len(packages)} installed packages with pip-audit ({sys.prefix}).")
        if result.local:
            print(f"  Installed from a local folder, not on PyPI: {', '.join(result.local)}.")
        _print_findings(result.findings)
        if not result.not_audited:  # a count over an incomplete audit would read as a clean bill
            print(f"{len(result.findings)} known vulnerabilit{'y' if len(result.findings) == 1 else 'ies'} found.")
    if result.not_audited:
        reasons = sorted(set(result.not_audited.values()))
        print(f"{len(result.not_audited)} installed package(s) could not be audited ({'; '.join(reasons)[:300]}), "
              "so this audit is incomplete; give --osv-db DIR to audit offline.", file=sys.stderr)
        return 2
    return 1 if result.findings else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--osv-db", type=Path, help="an OSV advisory folder (a clone of pypa/advisory-database)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.osv_db is None:
        return _main_online(args.json)
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
        _print_findings(findings)
        print(f"{len(findings)} known vulnerabilit{'y' if len(findings) == 1 else 'ies'} found.")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
