"""The dashboard's chart of records written and failed per day: an inline SVG drawn on
the server (no script), with a title and a table-like description for screen readers."""

from __future__ import annotations

__all__ = ["day_chart"]

from collections.abc import Sequence

from markupsafe import Markup, escape

from p2c.web._queries import DayCounts

_WIDTH, _HEIGHT = 640, 180
_LEFT, _BOTTOM, _TOP = 44, 24, 10


def _nice(peak: int) -> int:
    """A round top for the scale: 1, 2 or 5 times a power of ten."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if top * step >= peak:
                return top * step
        top *= 10


def day_chart(days: Sequence[DayCounts]) -> Markup:
    """Bars per day: written (green) and failed (red) side by side."""
    peak = _nice(max([d.written for d in days] + [d.failed for d in days] + [1]))
    plot_w = _WIDTH - _LEFT - 6
    plot_h = _HEIGHT - _BOTTOM - _TOP
    slot = plot_w / max(1, len(days))
    bar = max(2.0, slot * 0.36)
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        'aria-labelledby="chart-title chart-desc" preserveAspectRatio="xMidYMid meet">',
        '<title id="chart-title">Records written and failed per day</title>',
    ]
    described = "; ".join(f"{d.day:%b %d}: {d.written} written, {d.failed} failed" for d in days)
    parts.append(f'<desc id="chart-desc">{escape(described)}</desc>')
    for fraction in (0, 0.5, 1):
        y = _TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{_LEFT}" x2="{_WIDTH - 6}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{int(peak * fraction):,}</text>"
        )
    for index, day in enumerate(days):
        x = _LEFT + index * slot + slot * 0.12
        for offset, value, css in ((0.0, day.written, "written"), (bar, day.failed, "failed")):
            height = plot_h * value / peak
            y = _TOP + plot_h - height
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{height:.1f}" class="{css}"><title>{day.day:%b %d}: {value:,} '
                f"{css}</title></rect>"
            )
        if len(days) <= 16 or index % 2 == 0:
            parts.append(
                f'<text x="{x + bar:.1f}" y="{_HEIGHT - 6}" text-anchor="middle">'
                f"{day.day:%d}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
