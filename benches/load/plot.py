#!/usr/bin/env python3
"""Draws the load comparison's ratios (ours / peer, from run.sh's results)
as a horizontal bar chart in plain SVG: no plotting library needed.

Usage: plot.py results/latest.txt OUT.svg   (run.sh calls it)
"""
import math
import sys
from html import escape

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from summarize import METRICS, load, ratios  # noqa: E402


def main():
    runs, notes = load(sys.argv[1])
    # The user/system split explains the CPU bars; it is in the summary,
    # not drawn.
    rows = [
        r
        for r in ratios(runs)
        if not math.isnan(r[5]) and not r[1].startswith(("user_", "sys_"))
    ]
    width, left, bar_h, gap, top = 760, 300, 18, 8, 50
    height = top + len(rows) * (bar_h + gap) + 40
    # Log scale around 1.0, so 0.5x and 2x are the same length.
    span = max([abs(math.log2(r[5])) for r in rows if r[5] > 0] + [1.0]) * 1.1
    plot_w = width - left - 20
    centre = left + plot_w / 2

    def x(ratio):
        return centre + (math.log2(ratio) / span) * (plot_w / 2)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">'
        "ours / peer, same run (log scale; right of 1 = ours is larger)</text>",
        f'<text x="{width / 2}" y="36" text-anchor="middle" fill="#555">'
        f"{escape(notes[0].lstrip('# ') if notes else '')}</text>",
    ]
    for i, (scenario, metric, peer, _ours, _theirs, ratio, target, _rounds) in enumerate(rows):
        y = top + i * (bar_h + gap)
        high = next(h for m, h, _ in METRICS[scenario.split("_")[0]] if m == metric)
        good = ratio >= 1 if high else ratio <= 1
        colour = "#3a7d44" if good else "#b5473a"
        x0, x1 = sorted([centre, x(ratio)])
        label = escape(f"{scenario} {metric} vs {peer}")
        out.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{label}</text>')
        out.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" height="{bar_h}" fill="{colour}"/>')
        out.append(f'<text x="{x(ratio) + (4 if ratio >= 1 else -4):.1f}" y="{y + 13}" '
                   f'text-anchor="{"start" if ratio >= 1 else "end"}">{ratio:.2f}</text>')
        if target is not None:
            tx = x(target)
            out.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y - 2}" y2="{y + bar_h + 2}" '
                       'stroke="black" stroke-dasharray="3,2"/>')
    out.append(f'<line x1="{centre}" x2="{centre}" y1="{top - 6}" y2="{height - 30}" stroke="#333"/>')
    out.append(f'<text x="{centre}" y="{height - 14}" text-anchor="middle">1.0 (dashed: target)</text>')
    out.append("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
