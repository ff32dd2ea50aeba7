"""Tiny HTML building blocks for the plugin pages: escaping, the page frame, tables, badges.

Every value that reaches a page goes through :func:`esc` (or :func:`cell`), so names,
reasons and params written by users or DAG runs cannot inject markup.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, urlencode

CSS = """
:root { color-scheme: light dark; --fg:#1f2933; --muted:#616e7c; --bg:#fff; --line:#e4e7eb; --zebra:#f7f8fa;
  --accent:#0b6bcb; --ok:#1d7a46; --okbg:#e3f4ea; --bad:#b42318; --badbg:#fde8e7; --warn:#8a5a00; --warnbg:#fff3d6; }
@media (prefers-color-scheme: dark) { :root { --fg:#e4e7eb; --muted:#9aa5b1; --bg:#14181d; --line:#2a3038;
  --zebra:#1a1f25; --accent:#5aa6f0; --okbg:#15301f; --badbg:#3a1614; --warnbg:#382a0c; --ok:#6fd39a;
  --bad:#ff8a80; --warn:#ffd27a; } }
* { box-sizing: border-box; }
body { margin:0; padding:16px 24px 40px; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--fg); background:var(--bg); }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
nav.top { display:flex; gap:18px; align-items:baseline; border-bottom:1px solid var(--line); padding-bottom:10px;
  margin-bottom:16px; }
nav.top .brand { font-weight:600; font-size:16px; } nav.top a.on { font-weight:600; color:var(--fg); }
h1 { font-size:20px; margin:0 0 4px; } h2 { font-size:16px; margin:28px 0 8px; }
.sub { color:var(--muted); margin:0 0 12px; }
table { border-collapse:collapse; width:100%; margin:6px 0 10px; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.03em; }
tbody tr:nth-child(even) { background:var(--zebra); }
td.num { font-variant-numeric: tabular-nums; text-align:right; white-space:nowrap; }
.nowrap, td.time { white-space:nowrap; }
.scroll { overflow-x:auto; max-width:100%; } table.narrow { width:auto; min-width:420px; }
tr.changed td { background:var(--warnbg); }
code, .mono { font-family: ui-monospace,SFMono-Regular,Menlo,monospace; font-size:12.5px; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600;
  background:var(--zebra); color:var(--muted); white-space:nowrap; }
.badge.ok { background:var(--okbg); color:var(--ok); } .badge.bad { background:var(--badbg); color:var(--bad); }
.badge.warn { background:var(--warnbg); color:var(--warn); } .badge.prod { background:var(--accent); color:#fff; }
.cards { display:flex; gap:14px; flex-wrap:wrap; margin:8px 0 4px; }
.card { border:1px solid var(--line); border-radius:8px; padding:10px 14px; min-width:180px; }
.card .k { color:var(--muted); font-size:12px; } .card .v { font-size:18px; font-weight:600; }
form.inline { display:flex; gap:8px; align-items:center; flex-wrap:wrap; margin:6px 0; }
select, input, button { font:inherit; padding:4px 8px; border:1px solid var(--line); border-radius:6px;
  background:var(--bg); color:var(--fg); }
button { background:var(--accent); color:#fff; border-color:var(--accent); cursor:pointer; }
.note { border-left:3px solid var(--accent); background:var(--zebra); padding:8px 12px; margin:10px 0; }
.note.warn { border-left-color:var(--warn); background:var(--warnbg); }
pre { background:var(--zebra); padding:12px; border-radius:6px; overflow:auto; }
img.plot { max-width:100%; border:1px solid var(--line); border-radius:6px; background:#fff; }
"""

HEX_RE = re.compile(r"[0-9a-f]{32,}")
VERDICT_CLASS = {"OK": "ok", "WARN": "warn", "ALERT": "bad"}


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fmt(value: Any, digits: int = 4) -> str:
    """A display string: ``-`` for None, floats rounded, dicts/lists as compact JSON."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, str) and HEX_RE.fullmatch(value):
        return value[:12] + "…"  # a hash: the full value is in the cell's title
    return str(value)


def cell(value: Any, *, num: bool = False) -> str:
    """A table cell; ``num`` right-aligns it (metric columns). Shortened values keep the full one as title."""
    cls = ' class="num"' if num else ""
    text = fmt(value)
    title = f' title="{esc(value)}"' if isinstance(value, str) and text != value else ""
    return f"<td{cls}{title}>{esc(text)}</td>"


def when(iso: str | None) -> str:
    """``2026-02-17T03:00:00.123Z`` -> ``2026-02-17 03:00 UTC`` (anything else unchanged)."""
    text = str(iso or "")
    if len(text) >= 16 and text[10] == "T" and text.endswith(("Z", "+00:00")):
        return f"{text[:10]} {text[11:16]} UTC"
    return text or "-"


def who(actor: str | None) -> str:
    """The user part of an actor such as ``alice (via mlops_rollback manual__...)``."""
    return str(actor or "-").split(" (via ", 1)[0]


def link(href: str, text: Any, *, top: bool = False, new_tab: bool = False, title: str = "") -> str:
    target = ' target="_top"' if top else (' target="_blank" rel="noopener"' if new_tab else "")
    tip = f' title="{esc(title)}"' if title else ""
    return f'<a href="{esc(href)}"{target}{tip}>{esc(text)}</a>'


def badge(text: Any, kind: str = "", title: str | None = None) -> str:
    tip = f' title="{esc(title)}"' if title else ""
    return f'<span class="badge {esc(kind)}"{tip}>{esc(text)}</span>'


def problems_note(problems: list[str]) -> str:
    """A warning box listing files that could not be read as their artifact ("" when none)."""
    if not problems:
        return ""
    items = "".join(f"<li>{esc(p)}</li>" for p in problems)
    return f'<div class="note warn"><b>Some records could not be read:</b><ul>{items}</ul></div>'


def blessing_badge(blessed: bool | None) -> str:
    if blessed is True:
        return badge("BLESSED", "ok")
    if blessed is False:
        return badge("NOT BLESSED", "bad")
    return badge("not gated")


def verdict_badge(verdict: str | None) -> str:
    return badge(verdict or "-", VERDICT_CLASS.get(str(verdict), "")) if verdict else "-"


def table(
    headers: Sequence[str], rows: Iterable[str], *, empty: str = "nothing yet", narrow: bool = False
) -> str:
    body = "".join(rows)
    if not body:
        return f'<p class="sub">{esc(empty)}</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    cls = ' class="narrow"' if narrow else ""
    return (
        f'<div class="scroll"><table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    )


def size(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def query(path: str, params: dict[str, Any] | list[tuple[str, Any]]) -> str:
    return f"{path}?{urlencode(params, doseq=True)}"


def seg(text: str) -> str:
    """One URL path segment."""
    return quote(str(text), safe="=")


def page(title: str, body: str, *, base: str, active: str = "") -> str:
    """The frame around every page: title, top navigation, CSS."""

    def nav(name: str, href: str) -> str:
        return f'<a class="{"on" if active == name else ""}" href="{esc(base + href)}">{esc(name)}</a>'

    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f'<nav class="top"><span class="brand">ML models</span>{nav("Models", "/models")}'
        f"{nav('Runs', '/runs')}</nav>{body}</body></html>"
    )
