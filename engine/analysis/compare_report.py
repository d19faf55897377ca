"""A comparison's shareable report: compare.json, a self-contained report.html, report.md.

The HTML report holds its plots as inline SVG made here (no plotting library needed), so it
is one file that opens anywhere and can be mailed as it is.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from kiln_lab.engine.analysis.comparison import APPROACH_WORDS, Comparison
from kiln_lab.engine.export.markdown import md_text

COLOURS = {"scratch": "#d9822b", "finetune": "#2b6cb0"}


def cost_rows(comparison: Comparison) -> list[tuple[str, str, str]]:
    """(what, fine-tuning, from scratch) per cost line, as text, for the CLI, the GUI and the report."""
    costs = comparison.costs()
    if not costs:
        return []

    def cell(approach: str, key: str, fmt: Any) -> str:
        entry = costs.get(approach)
        if entry is None or entry.get(key) is None:
            return "–"
        return fmt(entry[key])

    def both(key: str, fmt: Any) -> tuple[str, str]:
        return cell("finetune", key, fmt), cell("scratch", key, fmt)

    watts = f"{comparison.device_watts:g} W"
    return [
        ("wall time per run (s)", *both("seconds", lambda v: f"{v:.1f}")),
        ("CPU time per run (s, all threads)", *both("cpu_seconds", lambda v: f"{v:.1f}")),
        ("time to 95% of best val score (s)", *both("seconds_to_near_best", lambda v: f"{v:.1f}")),
        ("optimizer steps used", *both("steps", lambda v: f"{v:.0f}")),
        ("stopped by", *both("stopped_by", lambda v: ", ".join(s.replace("_", " ") for s in v))),
        ("trainable params per phase", *both("phase_trainable", lambda v: " / ".join(f"{p:,}" for p in v))),
        ("total params", *both("params", lambda v: f"{v:,}")),
        ("forward FLOPs per sample (est.)", *both("forward_flops", lambda v: f"{v:,.0f}")),
        ("training FLOPs (est.)", *both("train_flops", lambda v: f"{v:.3g}")),
        (f"energy at {watts} (est., Wh)", *both("energy_wh", lambda v: f"{v:.4f}")),
    ]


def learning_curve_svg(comparison: Comparison, width: int = 560, height: int = 320) -> str:
    """Score against training samples, one line per approach, with interval bars, as SVG text."""
    curve = comparison.learning_curve()
    points = [p for pts in curve.values() for p in pts]
    if not points:
        return ""
    left, right, top, bottom = 60, 20, 20, 50
    xs = [p["train_samples"] for p in points]
    lows = [p["low"] for p in points]
    highs = [p["high"] for p in points]
    x0, x1 = 0.0, max(xs) * 1.05
    y0, y1 = min(lows), max(highs)
    pad = max((y1 - y0) * 0.1, 0.01)
    y0, y1 = y0 - pad, y1 + pad

    def sx(v: float) -> float:
        return left + (v - x0) / (x1 - x0 or 1) * (width - left - right)

    def sy(v: float) -> float:
        return height - bottom - (v - y0) / (y1 - y0 or 1) * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#444"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#444"/>',
    ]
    for i in range(5):
        value = y0 + (y1 - y0) * i / 4
        y = sy(value)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{value:.3f}</text>')
    for value in sorted(set(xs)):
        parts.append(f'<text x="{sx(value):.1f}" y="{height - bottom + 16}" text-anchor="middle">{value:.0f}</text>')
    parts.append(
        f'<text x="{(left + width - right) / 2}" y="{height - 10}" text-anchor="middle">training samples</text>'
    )
    parts.append(
        f'<text x="14" y="{(top + height - bottom) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(top + height - bottom) / 2})">{html.escape(comparison.score_words())}</text>'
    )
    for n, (approach, pts) in enumerate(curve.items()):
        colour = COLOURS.get(approach, "#333")
        path = " ".join(f"{sx(p['train_samples']):.1f},{sy(p['value']):.1f}" for p in pts)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for p in pts:
            x = sx(p["train_samples"])
            parts.append(
                f'<line x1="{x:.1f}" y1="{sy(p["low"]):.1f}" x2="{x:.1f}" y2="{sy(p["high"]):.1f}" '
                f'stroke="{colour}" stroke-width="1.5"/>'
            )
            for edge in ("low", "high"):
                parts.append(
                    f'<line x1="{x - 5:.1f}" y1="{sy(p[edge]):.1f}" x2="{x + 5:.1f}" y2="{sy(p[edge]):.1f}" '
                    f'stroke="{colour}" stroke-width="1.5"/>'
                )
            parts.append(f'<circle cx="{x:.1f}" cy="{sy(p["value"]):.1f}" r="4" fill="{colour}"/>')
        parts.append(
            f'<text x="{left + 10}" y="{top + 14 + 16 * n}" fill="{colour}">'
            f"{html.escape(APPROACH_WORDS[approach])}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def markdown_report(comparison: Comparison) -> str:
    lines = ["# From scratch vs fine-tuning", "", *[f"- {md_text(s, 2000)}" for s in comparison.verdict()], ""]
    lines += ["## Scores (mean and interval per data share)", "", "| approach | share | train samples | "
              f"{comparison.score_words()} | interval |", "|---|---:|---:|---:|---|"]
    for approach, pts in comparison.learning_curve().items():
        for p in pts:
            lines.append(
                f"| {APPROACH_WORDS[approach]} | {p['fraction']:.0%} | {p['train_samples']:.0f} | "
                f"{p['value']:.4f} | {p['low']:.4f} to {p['high']:.4f} |"
            )
    if comparison.baseline_name:
        for fraction in comparison.fractions():
            base = comparison.baseline_score(fraction)
            if base is not None:
                lines.append(f"| linear baseline ({comparison.baseline_name}) | {fraction:.0%} | – | "
                             f"{base.value:.4f} | {base.low:.4f} to {base.high:.4f} |")
    lines += ["", "## Costs per run (largest share; estimates where marked)", "",
              "| | fine-tuning | from scratch |", "|---|---:|---:|"]
    lines += [f"| {what} | {ft} | {sc} |" for what, ft, sc in cost_rows(comparison)]
    lines += [
        "",
        "FLOPs are estimated from the Dense and convolution layer shapes (forward x 3 x samples seen); "
        f"energy is wall time x {comparison.device_watts:g} W, a stated device power, not a measurement.",
        "",
        f"Budget per run: {_budget_words(comparison.budget)}.",
        "",
    ]
    per_class = comparison.per_class()
    if per_class is not None:
        share = comparison.fractions()[-1]
        lines += [
            f"## Per class ({share:.0%} of the training data, {comparison.scored_on} split)", "",
            md_text(per_class.sentence(), 2000), "",
            "| class | samples | from scratch | fine-tuning | difference | "
            "interval (95% for all classes together) | verdict |",
            "|---|---:|---:|---:|---:|---|---|",
        ]
        lines += [
            f"| {md_text(r.name)} | {r.support} | {r.baseline:.1%} | {r.candidate:.1%} | {r.difference:+.1%} | "
            f"{r.low:+.1%} to {r.high:+.1%} | {r.verdict} |"
            for r in per_class.rows
        ]
        lines.append("")
    lines += [
        "## Runs",
        "",
        "| approach | share | repeat | seed | score | steps | stopped by | seconds | run folder |",
        "|---|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for r in comparison.rows:
        lines.append(
            f"| {APPROACH_WORDS[r.approach]} | {r.data_fraction:.0%} | {r.repeat} | {r.seed} | {r.score:.4f} | "
            f"{r.steps} | {_stopped_words(r)} | {r.seconds:.1f} | {md_text(r.run_dir or '–', 1000)} |"
        )
    return "\n".join(lines) + "\n"


def html_report(comparison: Comparison) -> str:
    esc = html.escape
    verdict = "".join(f"<li>{esc(s)}</li>" for s in comparison.verdict())
    costs = "".join(
        f"<tr><th>{esc(what)}</th><td>{esc(ft)}</td><td>{esc(sc)}</td></tr>" for what, ft, sc in cost_rows(comparison)
    )
    per_class = comparison.per_class()
    per_class_html = ""
    if per_class is not None:
        rows = "".join(
            f"<tr><th>{esc(r.name)}</th><td>{r.support}</td><td>{r.baseline:.1%}</td><td>{r.candidate:.1%}</td>"
            f"<td>{r.difference:+.1%}</td><td>{r.low:+.1%} to {r.high:+.1%}</td><td>{esc(r.verdict)}</td></tr>"
            for r in per_class.rows
        )
        per_class_html = (
            f"<h2>Per class ({comparison.fractions()[-1]:.0%} of the training data)</h2>"
            f"<p>{esc(per_class.sentence())}</p>"
            "<table><tr><th>class</th><th>samples</th><th>from scratch</th><th>fine-tuning</th><th>difference</th>"
            f"<th>interval (95% for all classes together)</th><th>verdict</th></tr>{rows}</table>"
        )
    runs = "".join(
        f"<tr><td>{esc(APPROACH_WORDS[r.approach])}</td><td>{r.data_fraction:.0%}</td><td>{r.repeat}</td>"
        f"<td>{r.score:.4f}</td><td>{r.steps}</td><td>{esc(_stopped_words(r))}</td>"
        f"<td>{r.seconds:.1f}</td><td>{esc(r.run_dir or '–')}</td></tr>"
        for r in comparison.rows
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>From scratch vs fine-tuning</title>
<style>
body {{ font-family: sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; }}
td {{ text-align: right; }} th {{ text-align: left; background: #f4f4f4; }}
.note {{ color: #666; font-size: 90%; }}
</style></head><body>
<h1>From scratch vs fine-tuning</h1>
<ul>{verdict}</ul>
<h2>Learning curve</h2>
{learning_curve_svg(comparison)}
<p class="note">Points are means over repeats; bars are {comparison._confidence():.0%} bootstrap intervals over the
{comparison.eval_samples} {esc(comparison.scored_on)} samples and the repeats.</p>
<h2>Costs per run</h2>
<table><tr><th></th><th>fine-tuning</th><th>from scratch</th></tr>{costs}</table>
<p class="note">FLOPs are estimated from the Dense and convolution layer shapes (forward x 3 x samples seen);
energy is wall time x {comparison.device_watts:g} W, a stated device power, not a measurement.
Budget per run: {esc(_budget_words(comparison.budget))}.</p>
{per_class_html}
<h2>Runs</h2>
<table><tr><th>approach</th><th>share</th><th>repeat</th><th>score</th><th>steps</th><th>stopped by</th>
<th>seconds</th><th>run folder</th></tr>{runs}</table>
</body></html>
"""


def write_report(comparison: Comparison, out_dir: Path) -> None:
    """compare.json, report.html and report.md in ``out_dir``, each written atomically."""
    from kiln_lab.engine.export.atomic import atomic_write_text
    from kiln_lab.engine.export.save import strict_json

    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "compare.json", strict_json(comparison.to_dict()))  # a diverged run: null, not NaN
    atomic_write_text(out_dir / "report.html", html_report(comparison))
    atomic_write_text(out_dir / "report.md", markdown_report(comparison))


def _stopped_words(row: Any) -> str:
    words = row.stopped_by.replace("_", " ")
    return f"{words} (still improving)" if getattr(row, "still_improving", False) else words


def _budget_words(budget: dict[str, Any]) -> str:
    if not budget:
        return "not recorded"
    words = (
        f"at most {budget['max_steps']} optimizer steps, early stopping on validation loss after "
        f"{budget['patience_steps']} steps without improvement (never before {budget['min_steps']} steps), "
        "best weights restored"
    )
    if budget.get("seconds"):
        words += f", and at most {budget['seconds']:g} s of wall time"
    return words
