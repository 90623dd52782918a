"""The report's HTML: the Jinja2 template (conf/report/) filled with `build.report_context`.

Autoescaping is on for every value; the charts, built here from our own numbers and labels,
are the only markup passed through (`Markup`)."""
from __future__ import annotations

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from reporting.build import ReportInput, report_context


def _environment() -> Environment:
    env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters["svg"] = Markup
    return env


def render_report(inp: ReportInput, template: str) -> str:
    """The report of `inp` as one self-contained HTML document."""
    return _environment().from_string(template).render(**report_context(inp))
