"""The ethics committee's monthly report (MONITORING.md §6), as pure functions.

`build.report_context` turns the published rows of a month (the `monitoring_*` tables and
the `monitoring_runs` row, as plain records) into what the template shows: numbers
formatted in French, small cells as « s », flags marked; `figures` draws the charts with
matplotlib's SVG backend, deterministically (fixed hash salt, no date); `render` fills the
Jinja2 template. No Spark, no I/O: `jobs/report.py` reads the tables and the template
(`conf/report/`) and writes the file.
"""
