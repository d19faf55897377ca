"""How long the CLI takes before it does anything, and whether it loads TensorFlow for it.

    python bench/startup.py [--repeats 3] [--json OUT]

Each case runs ``python main.py ...`` in a fresh subprocess (interleaved rounds, medians):
``--help``, ``inspect`` of a small image folder and of a CSV (neither should load
TensorFlow), ``train`` with a data path that does not exist (the error should come before
TensorFlow loads), and, for scale, a bare ``import tensorflow``. Peak memory is the
subprocess's ``ru_maxrss``. Ratios are against the bare TensorFlow import.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = (
    "import resource, sys, runpy; sys.argv = ['main.py', *sys.argv[1:]]; "
    "code = 0\n"
    "try:\n    runpy.run_path('main.py', run_name='__main__')\n"
    "except SystemExit as exit:\n    code = exit.code or 0\n"
    "print('KILN_PROBE', 'tensorflow' in sys.modules, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
    "file=sys.stderr)\nsys.exit(code)"
)


def _fixtures(where: Path) -> dict[str, list[str]]:
    import numpy as np
    from PIL import Image

    for k, name in enumerate(("cats", "dogs")):
        (where / "images" / name).mkdir(parents=True, exist_ok=True)
        for i in range(20):
            pixels = np.random.default_rng(10 * k + i).integers(0, 256, (48, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(where / "images" / name / f"{i}.jpg")
    rows = "\n".join(f"{i},{i * 2 % 7},{'ab'[i % 2]}" for i in range(200))
    (where / "table.csv").write_text("a,b,label\n" + rows + "\n")
    return {
        "help": ["--help"],
        "inspect_images": ["inspect", "--data", str(where / "images")],
        "inspect_csv": ["inspect", "--data", str(where / "table.csv")],
        "train_missing_data": ["train", "--data", str(where / "nowhere"), "--out", str(where / "run")],
    }


def run_case(argv: list[str]) -> dict[str, float | bool]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    probe = [line for line in done.stderr.splitlines() if line.startswith("KILN_PROBE")]
    loaded, peak_kb = (probe[-1].split()[1] == "True", int(probe[-1].split()[2])) if probe else (None, 0)
    return {"seconds": seconds, "tensorflow_loaded": loaded, "peak_mb": peak_kb / 1024, "exit": done.returncode}


def run_tensorflow_import() -> dict[str, float | bool]:
    code = (
        "import resource, sys; sys.path.insert(0, '.'); from kiln_lab.engine.runtime import import_tensorflow_quietly; "
        "import_tensorflow_quietly(); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "tensorflow_loaded": True, "peak_mb": int(done.stdout.split()[-1]) / 1024, "exit": 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kiln-startup-") as folder:
        cases = _fixtures(Path(folder))
        rows: dict[str, list[dict]] = {name: [] for name in [*cases, "import_tensorflow"]}
        names = list(rows)
        for index in range(args.repeats):
            for name in names if index % 2 == 0 else names[::-1]:
                rows[name].append(run_tensorflow_import() if name == "import_tensorflow" else run_case(cases[name]))
    tf_seconds = statistics.median(r["seconds"] for r in rows["import_tensorflow"])
    report = {}
    print(f"{'':<22}{'seconds':>9}{'x TF import':>13}{'peak MB':>9}  TensorFlow loaded  exit")
    for name, runs in rows.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        peak = statistics.median(r["peak_mb"] for r in runs)
        loaded = runs[-1]["tensorflow_loaded"]
        report[name] = {"seconds": round(seconds, 3), "ratio_to_tf_import": round(seconds / tf_seconds, 3),
                        "peak_mb": round(peak), "tensorflow_loaded": loaded, "exit": runs[-1]["exit"]}
        ratio = seconds / tf_seconds
        print(f"{name:<22}{seconds:>9.2f}{ratio:>13.2f}{peak:>9.0f}  {str(loaded):<17}  {runs[-1]['exit']}")
    print(f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
