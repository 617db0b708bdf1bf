"""What every model report shares: the page's style, the table macro, number formatting, saving
a figure, and rendering the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import numpy as np
from jinja2 import Environment
from matplotlib.figure import Figure

DPI: Final = 100

HEAD: Final = """<!doctype html>
{% macro table(id, head, rows, mark=None) -%}
<table id="{{ id }}">
{%- if head %}<tr>{% for h in head %}<th>{{ h }}</th>{% endfor %}</tr>{% endif %}
{% for cells in rows %}<tr{% if loop.index0 == mark %} class="stored"{% endif %}>
{%- for cell in cells %}<td>{{ cell|num }}</td>{% endfor %}</tr>
{% endfor %}</table>
{%- endmacro %}
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body { font-family: sans-serif; margin: 2em; max-width: 70em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.stored { font-weight: bold; background: #fff3c4; }
img { max-width: 100%; display: block; margin: 1em 0; }
</style></head><body>
<h1>{{ title }}</h1>
"""
"""The start of every report page: ``table(id, head, rows, mark)`` renders rows of cells."""


def num(value: Any) -> str:
    """Floats to four decimals, missing values as a dash, anything else as text."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def save(fig: Figure, out: Path, name: str) -> str:
    """Write ``fig`` as ``out/name`` (PNG); return the name for the page."""
    fig.savefig(out / name, dpi=DPI)
    return name


def write_page(body: str, out: Path, **context: Any) -> Path:
    """Render :data:`HEAD` + ``body`` (a Jinja template) with ``context`` into
    ``out/index.html``; return its path."""
    env = Environment(autoescape=True)
    env.filters["num"] = num
    index = out / "index.html"
    index.write_text(env.from_string(HEAD + body).render(**context), encoding="utf-8")
    return index
