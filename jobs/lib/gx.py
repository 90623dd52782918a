"""Great Expectations as the report of the source rules: each table's suite
(`expectations.gx_suite`) run on its rows, with JSON results and optional HTML data docs.

GX reports; it does not split rows (that is the job's own filter, `transforms/quality.py`).
`disagreements` compares the two translations of the same rules.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import DataFrame

from expectations.gx_suite import SCHEMA_RULE, gx_suite
from expectations.rules import TableSuite


def run_great_expectations(frames: Mapping[str, DataFrame], suites: Mapping[str, TableSuite], *, run_id: str,
                           docs_dir: Path | None, examples: int, schema_only: bool = False) -> dict[str, dict]:
    """Each table's suite through GX (1.24, ephemeral context, Spark data source, one
    whole-dataframe batch per table); {table: {"json": describe_dict with each
    expectation's rule, "rules": {rule: {"success", "unexpected_count"}}}}."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig,
    )

    context = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False, progress_bars=ProgressBarsConfig(globally=False)))
    if docs_dir is not None:
        context.add_data_docs_site("dmde", {"class_name": "SiteBuilder", "store_backend": {
            "class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)}})
    source = context.data_sources.add_spark("sources", persist=False)
    gx_run = gx.RunIdentifier(run_name=run_id)
    out = {}
    for table, df in frames.items():
        suite = suites[table]
        batch = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe(table)
        definition = context.validation_definitions.add(gx.ValidationDefinition(
            name=table, data=batch, suite=context.suites.add(gx_suite(suite, schema_only=schema_only))))
        if examples and not schema_only:
            result_format = {"result_format": "SUMMARY", "partial_unexpected_count": examples,
                             "unexpected_index_column_names": list(suite.key)}
        else:
            result_format = {"result_format": "BASIC", "partial_unexpected_count": 0}
        result = definition.run(batch_parameters={"dataframe": df}, result_format=result_format, run_id=gx_run)
        described = result.describe_dict()
        rules: dict[str, dict] = {}
        for entry, outcome in zip(described["expectations"], result.results):
            rule = outcome.expectation_config.meta.get("rule")
            entry["rule"] = rule
            if rule == SCHEMA_RULE:
                rules.setdefault(rule, {"success": True})
                rules[rule]["success"] &= bool(outcome.success)
            else:
                rules[rule] = {"success": bool(outcome.success),
                               "unexpected_count": (outcome.result or {}).get("unexpected_count")}
        out[table] = {"json": described, "rules": rules}
    if docs_dir is not None:
        try:
            context.build_data_docs(site_names=["dmde"])
        except Exception as err:  # noqa: BLE001 - the HTML is a convenience; the JSON is kept
            print(f"[validate] GX data docs not rendered ({err}); the JSON results are kept.", file=sys.stderr)
    return out


def disagreements(by_rule: Mapping[str, Mapping[str, int]], gx_results: Mapping[str, dict]) -> list[str]:
    """Rules whose GX count differs from the job's filter: their two translations disagree.
    `by_rule`: {table: {rule: rows the job's filter rejected}}."""
    notes = []
    for table, result in gx_results.items():
        for rule, outcome in result["rules"].items():
            ours = by_rule.get(table, {}).get(rule)
            theirs = outcome.get("unexpected_count")
            if rule != SCHEMA_RULE and ours is not None and theirs is not None and ours != theirs:
                notes.append(f"{table}.{rule}: Great Expectations counts {theirs:,} row(s), the job's filter "
                             f"{ours:,}: compare expectations/gx_suite.py with transforms/quality.py.")
    return notes
