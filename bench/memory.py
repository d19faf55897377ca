"""Peak memory of a training run at two dataset sizes: flat beyond the cache budget.

    python bench/memory.py [--small 750] [--large 3000] [--json OUT]

Trains the MLP preset for 2 epochs on image folders of two sizes (subsets of the folder
`bench/image_pipeline.py` makes, linked, not copied), each in a fresh subprocess, and reads
the subprocess's peak resident memory (``ru_maxrss``). Two settings:

* ``budget_1mb``: ``KILN_CACHE_MEMORY_MB=1`` states a cache budget both sizes exceed, so the
  cache goes to disk: the peak should not grow with the dataset (ratio near 1.0).
* ``memory_cache``: the default budget (a quarter of the available memory); both sizes fit,
  so the cache holds every image as uint8 (64*64*3 = 12 KB each): growth per image is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, sys
sys.path.insert(0, {root!r})
from kiln_lab.engine.runtime import import_tensorflow_quietly
import_tensorflow_quietly()
from kiln_lab.engine.training.config import RunConfig
from kiln_lab.engine.training.job import run_training
config = RunConfig().replace(
    data={{"source": {source!r}, "image_size": (64, 64)}},
    model={{"arch": "mlp"}},
    train={{"epochs": 2, "batch_size": 32, "checkpoint": False}},
)
result = run_training(config)
print(json.dumps({{"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "samples": result.dataset.num_samples}}))
"""


def subset(full: Path, count: int, where: Path) -> Path:
    """A folder of ``count`` files of ``full`` (same class layout), as symbolic links."""
    target = where / f"subset-{count}"
    if target.exists():
        return target
    files = sorted(p for p in full.rglob("*") if p.is_file() and not p.name.startswith("."))
    step = max(1, len(files) // count)
    for path in files[::step][:count]:
        link = target / path.parent.name / path.name
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(path, link)
    return target


def peak(source: Path, budget_mb: str | None) -> dict[str, float]:
    env = dict(os.environ)
    env.pop("KILN_CACHE_MEMORY_MB", None)
    if budget_mb is not None:
        env["KILN_CACHE_MEMORY_MB"] = budget_mb
    code = CHILD.format(root=str(ROOT), source=str(source))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    from bench.image_pipeline import make_image_folder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=750)
    parser.add_argument("--large", type=int, default=3000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    base = Path(os.environ.get("KILN_BENCH_DIR") or tempfile.gettempdir())
    full = make_image_folder(base / f"kiln-bench-images-{args.large}", args.large)
    links = base / "kiln-bench-subsets"
    sizes = {"small": subset(full, args.small, links), "large": subset(full, args.large, links)}
    report: dict[str, dict[str, float]] = {}
    for setting, budget in (("budget_1mb", "1"), ("memory_cache", None)):
        rows = {name: peak(path, budget) for name, path in sizes.items()}
        small, large = rows["small"], rows["large"]
        extra = large["samples"] - small["samples"]
        report[setting] = {
            "small_samples": small["samples"],
            "large_samples": large["samples"],
            "small_peak_mb": round(small["peak_mb"], 1),
            "large_peak_mb": round(large["peak_mb"], 1),
            "ratio": round(large["peak_mb"] / small["peak_mb"], 3),
            "kb_per_extra_image": round(1024 * (large["peak_mb"] - small["peak_mb"]) / max(1, extra), 1),
        }
        row = report[setting]
        print(
            f"{setting:<14} {row['small_samples']:>5} images: {row['small_peak_mb']:>7.0f} MB   "
            f"{row['large_samples']:>5} images: {row['large_peak_mb']:>7.0f} MB   ratio {row['ratio']:.3f}   "
            f"{row['kb_per_extra_image']:.1f} KB per extra image"
        )
    print(f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
