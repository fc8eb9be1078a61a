"""Profile the statements that `ernest_rules.resolve` runs, one by one.

Usage::

    python benchmarks/profile_resolve.py --data /tmp/ernest-bench/rows-1000000 [--list FILE] [--top 8]

Without --list, the benchmark's standard list is used (10,000 manual ids).
Each statement that DuckDB runs for the resolution is profiled (DuckDB's JSON
profiler, the same figures as EXPLAIN ANALYZE) and printed with its time and
its costliest operators. The product's code is not changed: the export's
connection is wrapped in a proxy that profiles each `execute`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Profile the ernest_rules of this repository, whatever copy pip's editable install points to.
sys.path[:0] = [str(HERE.parent), str(HERE)]

import standard_list  # noqa: E402


class ProfilingConnection:
    """Forward everything to a DuckDB connection, and profile each execute() call."""

    def __init__(self, connection, output: Path):
        self._connection = connection
        self._output = output
        self.statements: list[dict] = []
        connection.execute("SET enable_profiling = 'json'")
        connection.execute(f"SET profiling_output = '{output}'")

    def __getattr__(self, name):
        return getattr(self._connection, name)

    def execute(self, sql, *args, **kwargs):
        # A SELECT writes its profile only once its caller has fetched it, which happens
        # before the next statement starts. So collect the pending profiles first.
        self._collect()
        started = time.perf_counter()
        result = self._connection.execute(sql, *args, **kwargs)
        self.statements.append({"sql": sql, "seconds": time.perf_counter() - started, "profile": {}})
        self._collect()
        return result

    def _collect(self) -> None:
        try:
            profile = json.loads(self._output.read_text())
        except (OSError, ValueError):
            return
        text = profile.get("query", {}).get("sql", "")
        for statement in reversed(self.statements):
            if not statement["profile"] and statement["sql"].strip() == text.strip():
                statement["profile"] = profile
                statement["seconds"] = max(statement["seconds"], profile.get("query", {}).get("latency", 0.0) or 0.0)
                break


def operators(node: dict, depth: int = 0):
    """Yield (seconds, depth, name, rows, details) for every operator of a profile tree."""
    info = node.get("extra_info", {})
    details = "; ".join(f"{key}={value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
                        for key, value in info.items() if key not in ("Estimated Cardinality", "Table Index", "Order Mode"))
    yield node.get("timing", 0.0), depth, node.get("name", ""), node.get("intermediate_rows", 0), details.replace("\n", " ")
    for child in node.get("children", []):
        yield from operators(child, depth + 1)


def report(statements: list[dict], top: int, width: int = 220) -> str:
    lines = []
    for number, statement in enumerate(sorted(statements, key=lambda s: -s["seconds"]), start=1):
        if statement["seconds"] < 0.005:
            continue
        head = " ".join(statement["sql"].split())[:width]
        peak = statement["profile"].get("system", {}).get("peak_buffer_memory")
        memory = f"  peak buffer memory {peak / 1e6:,.0f} MB" if peak else ""
        lines.append(f"## {statement['seconds']:.3f} s{memory}  {head}")
        tree = statement["profile"].get("operator", [])
        ops = sorted((op for root in tree for op in operators(root)), key=lambda op: -op[0])[:top]
        for seconds, _depth, name, rows, details in ops:
            lines.append(f"   {seconds:7.3f} s  {name:<22} rows={rows:<10} {details[:width]}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="export folder (as given to --data of ernest-rules)")
    parser.add_argument("--list", type=Path, help="list definition file (default: the benchmark's standard list)")
    parser.add_argument("--manual", type=int, default=10_000, help="manual candidat ids of the standard list (default 10000)")
    parser.add_argument("--top", type=int, default=8, help="operators shown per statement (default 8)")
    parser.add_argument("--purpose", help="purpose set on the standard list (default: none, consent required)")
    args = parser.parse_args(argv)

    from ernest_rules import open_export, resolve

    export = open_export(args.data, lock=False)  # profiling is a setting: the default locked connection refuses it
    rows = export.connection.execute("SELECT count(*) FROM candidats").fetchall()[0][0]
    if args.list:
        definition = args.list
    else:
        definition = standard_list.definition(standard_list.manual_ids(rows, args.manual))
        if args.purpose:
            definition["purpose"] = args.purpose
    # Warm the file cache and DuckDB's metadata cache first.
    resolve(definition, export=export, allow_all=True, suppression_files=[])
    with tempfile.TemporaryDirectory() as folder:
        proxy = ProfilingConnection(export.connection, Path(folder) / "profile.json")
        export.connection = proxy  # type: ignore[assignment]
        started = time.perf_counter()
        resolution = resolve(definition, export=export, allow_all=True, suppression_files=[])
        total = time.perf_counter() - started
    print(f"# resolve: {total:.3f} s for {resolution.report.recipients} recipients ({rows} candidats); "
          f"{len(proxy.statements)} statements, {sum(s['seconds'] for s in proxy.statements):.3f} s in DuckDB (profiled)")
    print(report(proxy.statements, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
