"""Performance benchmark of ernest_rules: compile, resolve, manual ids, export memory, growth.

Usage::

    python benchmarks/run.py [--rows 1000000,10000000] [--quick] [--repeat 5] [--data-dir /tmp/ernest-bench]

Missing data sets are generated with samples/generate.py under the data
folder (never in the repository). The script prints a table and writes every
sample to a JSON file (default: <data-dir>/results/). With --quick it runs on
200,000 rows with fewer repetitions and exits with status 1 when a ratio
target (hand-written SQL, pandas) is missed. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Measure the ernest_rules of this repository, whatever copy pip's editable install points to.
sys.path[:0] = [str(REPO), str(HERE)]

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402

import ernest_rules  # noqa: E402
import standard_list  # noqa: E402
from ernest_rules import compile_rule, open_export, resolve  # noqa: E402

TABLES = ("candidats", "contacts", "societes", "offres", "utilisateurs", "candidatures")

TYPICAL_RULE = ('candidats where vivier = "Dev" and statut in ("Disponible", "En veille") '
                'and ville = "Lyon" and disponibilite >= 2025-01-01')
EXPORT_RULE = "candidats where not desabonne"
EXPORT_PURPOSE = "suivi_candidature"
MANUAL_IDS = 10_000
MANY_MANUAL_IDS = 100_000
EXPORT_MIN_RECIPIENTS = 5_000_000

# Targets: (comparison, value). "le": the figure must be at most the value; "ge": at least.
TARGETS = {
    "compile_typical_ms": ("le", 0.3),
    "compile_200_ms": ("le", 20.0),
    "hand_sql_ratio": ("le", 1.25),
    "pandas_speedup": ("ge", 10.0),
    "manual_100k_added_s": ("le", 0.2),
    "export_peak_rss_gb": ("le", 1.5),
}
QUICK_GATES = ("hand_sql_ratio", "pandas_speedup")


# ---------------------------------------------------------------- helpers


def load() -> dict:
    """Load averages and the `uptime` line, recorded with each figure."""
    one, five, fifteen = os.getloadavg()
    try:
        line = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        line = ""
    return {"load1": round(one, 2), "load5": round(five, 2), "load15": round(fifteen, 2), "uptime": line}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> dict:
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    try:
        import pandas
        pandas_version = pandas.__version__
    except ImportError:
        pandas_version = None
    return {"cores": os.cpu_count(), "cpu": cpu, "memory": memory, "python": platform.python_version(),
            "duckdb": duckdb.__version__, "pyarrow": pa.__version__, "pandas": pandas_version,
            "platform": platform.platform(), "ernest_rules": ernest_rules.__file__}


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def drop_temp_tables(connection, prefixes: tuple[str, ...]) -> None:
    """Drop the temporary tables a run left (the product keeps a resolution's tables on its connection)."""
    names = [row[0] for row in connection.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()]
    for name in names:
        if name.startswith(prefixes):
            connection.execute(f'DROP TABLE IF EXISTS temp.main."{name}"')


def timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


# ---------------------------------------------------------------- data sets


def dataset(data_dir: Path, rows: int) -> Path:
    """Return the folder of the data set with `rows` candidats, generating it when missing."""
    folder = data_dir / f"rows-{rows}"
    if all((folder / "parquet" / f"{table}.parquet").is_file() for table in TABLES):
        return folder
    say(f"generating {rows} candidats into {folder} (samples/generate.py)…")
    started = time.perf_counter()
    subprocess.run([sys.executable, str(REPO / "samples" / "generate.py"), "--rows", str(rows), "--out", str(folder),
                    "--forms", "parquet"], check=True)
    say(f"generated in {time.perf_counter() - started:.1f} s")
    return folder


def table_sizes(connection) -> dict[str, int]:
    return {table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0] for table in TABLES}


# ---------------------------------------------------------------- 1. compile


def rule_with_conditions(count: int = 200) -> str:
    """Build a rule of `count` conditions over various fields: groups of four joined by `and`, groups joined by `or`."""
    templates = [
        'statut = "Disponible"', 'ville != "Paris"', 'vivier in ("Dev", "Data", "DevOps")',
        "disponibilite >= 2025-01-01", "date_creation < 2024-06-30", 'competences contains "Python"',
        'code_postal starts with "69"', 'source not in ("LinkedIn", "Cooptation")', 'nom contains "mar"',
        "consentement_rgpd", "not desabonne", "email is not empty", "id > 1000", 'civilite = "Mme"',
        'prenom starts with "Ma"', "telephone is empty", 'statut in ("En veille", "En poste", "Placé")',
        "disponibilite < 01/06/2026", 'competence = "SQL"', 'ville contains "saint"',
    ]
    conditions = []
    for index in range(count):
        condition = templates[index % len(templates)]
        # Vary the values so that no two conditions are identical.
        condition = condition.replace("1000", str(1000 + index)) if "1000" in condition else condition
        conditions.append(condition)
    groups = [" and ".join(conditions[start:start + 4]) for start in range(0, count, 4)]
    return "candidats where " + " or ".join(f"({group})" for group in groups)


def bench_compile(iterations_typical: int, iterations_large: int) -> dict:
    large = rule_with_conditions(200)
    results = {}
    for name, text, iterations in (("typical", TYPICAL_RULE, iterations_typical), ("200_conditions", large, iterations_large)):
        for _ in range(max(10, iterations // 20)):  # warm-up: grammar, catalog, caches
            compile_rule(text)
        gc.collect()
        samples = []
        for _ in range(iterations):
            started = time.perf_counter_ns()
            compile_rule(text)
            samples.append(time.perf_counter_ns() - started)
        samples_ms = [value / 1e6 for value in samples]
        ordered = sorted(samples_ms)
        results[name] = {"iterations": iterations, "median_ms": median(samples_ms), "min_ms": ordered[0],
                         "p90_ms": ordered[int(0.9 * (len(ordered) - 1))], "rule_chars": len(text), "load": load()}
    results["200_conditions"]["rule"] = large
    return results


# ---------------------------------------------------------------- 2-4. resolve


class Bench:
    """One opened data set and the runs made on it."""

    def __init__(self, folder: Path, rows: int):
        self.folder = folder
        self.rows = rows
        opened = []
        for _ in range(3):
            seconds, export = timed(lambda: open_export(folder))
            opened.append(seconds)
            if len(opened) < 3:
                export.close()
        self.open_seconds = opened
        self.export = export
        self.connection = export.connection
        standard_list.register_udf(self.connection)
        self.sizes = table_sizes(self.connection)

    def product(self, definition: dict):
        """Resolve with the product; return (seconds, resolution). The caller drops the tables."""
        return timed(lambda: resolve(definition, export=self.export, allow_all=True, suppression_files=[]))

    def hand(self, manual: list[int], table: str = "bench_hand") -> float:
        """Run the hand-written query and materialise it as a temporary table, as the product does."""
        def run():
            manual_table = None
            if manual:
                self.connection.register("bench_manual_arrow", pa.table({"id": pa.array(manual, pa.int64())}))
                manual_table = "bench_manual_arrow"
            self.connection.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {standard_list.hand_sql(manual_table)}")
            if manual:
                self.connection.unregister("bench_manual_arrow")
        seconds, _ = timed(run)
        return seconds

    def cleanup(self) -> None:
        drop_temp_tables(self.connection, ("er_",))

    def close(self) -> None:
        self.export.close()


COLUMNS = "recipient_key, kind, entity, id, email, display_name, section, sources, position"


def compare_hand(bench: Bench, resolution) -> dict:
    """Compare the hand query's table with the product's recipients: keys, winners, then every column."""
    con = bench.connection
    product = resolution.table

    def count(sql: str) -> int:
        return con.execute(sql).fetchall()[0][0]

    return {
        "product_rows": count(f"SELECT count(*) FROM {product}"),
        "hand_rows": count("SELECT count(*) FROM bench_hand"),
        "keys_only_in_product": count(f"SELECT count(*) FROM (SELECT recipient_key FROM {product} EXCEPT SELECT recipient_key FROM bench_hand)"),
        "keys_only_in_hand": count(f"SELECT count(*) FROM (SELECT recipient_key FROM bench_hand EXCEPT SELECT recipient_key FROM {product})"),
        "winner_differences": count(f"SELECT count(*) FROM {product} AS p JOIN bench_hand AS h USING (recipient_key) "
                                    "WHERE p.entity IS DISTINCT FROM h.entity OR p.id IS DISTINCT FROM h.id"),
        "row_differences": count(f"SELECT count(*) FROM (SELECT {COLUMNS} FROM {product} EXCEPT ALL SELECT {COLUMNS} FROM bench_hand)")
                           + count(f"SELECT count(*) FROM (SELECT {COLUMNS} FROM bench_hand EXCEPT ALL SELECT {COLUMNS} FROM {product})"),
    }


def compare_pandas(bench: Bench, resolution, frame) -> dict:
    con = bench.connection
    con.register("bench_pandas", frame)
    product = resolution.table

    def count(sql: str) -> int:
        return con.execute(sql).fetchall()[0][0]

    result = {
        "pandas_rows": len(frame),
        "keys_only_in_product": count(f"SELECT count(*) FROM (SELECT recipient_key FROM {product} EXCEPT SELECT recipient_key FROM bench_pandas)"),
        "keys_only_in_pandas": count(f"SELECT count(*) FROM (SELECT recipient_key FROM bench_pandas EXCEPT SELECT recipient_key FROM {product})"),
        "winner_differences": count(f"SELECT count(*) FROM {product} AS p JOIN bench_pandas AS h USING (recipient_key) "
                                    "WHERE p.entity IS DISTINCT FROM h.entity OR p.id IS DISTINCT FROM h.id"),
    }
    con.unregister("bench_pandas")
    return result


def bench_resolve(bench: Bench, repeat: int) -> dict:
    manual = standard_list.manual_ids(bench.rows, MANUAL_IDS)
    definition = standard_list.definition(manual)
    # Warm-up (file cache, Parquet metadata) and the equality check.
    _, resolution = bench.product(definition)
    bench.hand(manual)
    check = compare_hand(bench, resolution)
    recipients = resolution.report.recipients
    report = resolution.report.model_dump(mode="json")
    bench.cleanup()
    same = (check["keys_only_in_product"] == 0 and check["keys_only_in_hand"] == 0 and check["winner_differences"] == 0)
    if not same:
        raise SystemExit(f"the hand-written query and the product disagree on {bench.rows} rows: {check}")
    product, hand = [], []
    loads = [load()]
    for index in range(repeat):
        # Alternate the order so that a burst of load hits both sides alike.
        for side in (("product", "hand") if index % 2 == 0 else ("hand", "product")):
            if side == "product":
                seconds, _ = bench.product(definition)
                bench.cleanup()
                product.append(seconds)
            else:
                hand.append(bench.hand(manual))
        loads.append(load())
    return {"definition": definition | {"sections": [dict(s, manual=f"{len(s.get('manual', []))} ids") for s in definition["sections"]]},
            "purpose": None, "consent_required": True, "recipients": recipients,
            "excluded": report.get("excluded"), "check": check,
            "product_s": product, "hand_s": hand, "product_median_s": median(product), "hand_median_s": median(hand),
            "ratio": median(product) / median(hand), "ratio_of_minimums": min(product) / min(hand), "load": loads}


def bench_pandas(bench: Bench, repeat: int, product_median: float) -> dict:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return {"skipped": "pandas is not installed (pip install pandas)"}
    manual = standard_list.manual_ids(bench.rows, MANUAL_IDS)
    definition = standard_list.definition(manual)
    _, resolution = bench.product(definition)
    loads = [load()]
    samples = []
    frame = None
    for _ in range(repeat):
        frame = None
        gc.collect()
        seconds, frame = timed(lambda: standard_list.pandas_recipients(bench.folder / "parquet", manual))
        samples.append(seconds)
        loads.append(load())
    check = compare_pandas(bench, resolution, frame)
    bench.cleanup()
    del frame
    gc.collect()
    return {"pandas_s": samples, "pandas_median_s": median(samples), "speedup": median(samples) / product_median,
            "check": check, "load": loads}


def bench_manual(bench: Bench, repeat: int) -> dict:
    none = standard_list.definition([])
    many = standard_list.definition(standard_list.manual_ids(bench.rows, MANY_MANUAL_IDS))
    bench.product(many)
    bench.cleanup()
    without, with_many = [], []
    loads = [load()]
    for index in range(repeat):
        for side in ((0, 1) if index % 2 == 0 else (1, 0)):
            seconds, _ = bench.product(many if side else none)
            bench.cleanup()
            (with_many if side else without).append(seconds)
        loads.append(load())
    return {"without_s": without, "with_100k_s": with_many, "without_median_s": median(without),
            "with_100k_median_s": median(with_many), "added_s": median(with_many) - median(without), "load": loads}


# ---------------------------------------------------------------- 5. export memory

EXPORT_CHILD = r"""
import json, sys, time
import ernest_rules
from ernest_rules.cli import main
started = time.perf_counter()
code = main(["export", sys.argv[1], "--data", sys.argv[2], "-o", sys.argv[3], "--allow-all"])
seconds = time.perf_counter() - started
peak = None
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        peak = int(line.split()[1]) * 1024
print("BENCH-RESULT " + json.dumps({"exit": code, "seconds": seconds, "peak_rss_bytes": peak, "module": ernest_rules.__file__}))
"""


def available_memory() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def child_peak(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def bench_export(folder: Path, work_dir: Path, reserve_bytes: int) -> dict:
    """Export `candidats where not desabonne` to Parquet in a child process and read its peak RSS.

    The child reports its own VmHWM (peak RSS), and the parent also samples it
    every 0.2 s. Because other people share the machine, the parent stops the
    child when the available memory falls below `reserve_bytes`. The figure is
    then a lower bound.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir) as temporary:
        list_file = Path(temporary) / "export.toml"
        list_file.write_text(f'title = "Benchmark export"\npurpose = "{EXPORT_PURPOSE}"\n\n'
                             f'[[sections]]\nkind = "candidats"\nrule = \'{EXPORT_RULE}\'\n', encoding="utf-8")
        output = Path(temporary) / "recipients.parquet"
        before = load()
        started = time.perf_counter()
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        child = subprocess.Popen([sys.executable, "-c", EXPORT_CHILD, str(list_file), str(folder), str(output)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=environment)
        sampled, stopped = 0, False
        while child.poll() is None:
            sampled = max(sampled, child_peak(child.pid) or 0)
            free = available_memory()
            if free is not None and free < reserve_bytes:
                child.kill()  # our own child only
                stopped = True
                break
            time.sleep(0.2)
        stdout, stderr = child.communicate()
        wall = time.perf_counter() - started
        if stopped:
            return {"rule": EXPORT_RULE, "purpose": EXPORT_PURPOSE, "recipients": None, "stopped": True,
                    "seconds": wall, "peak_rss_bytes": sampled, "peak_rss_gb": sampled / 1e9, "load": [before, load()],
                    "note": f"stopped: the machine had less than {reserve_bytes / 1e9:.1f} GB available; the peak is a lower bound"}
        lines = [line for line in stdout.splitlines() if line.startswith("BENCH-RESULT ")]
        if child.returncode != 0 or not lines:
            raise SystemExit(f"the export child failed ({child.returncode}): {stderr[-2000:]}")
        result = json.loads(lines[-1].split(" ", 1)[1])
        if result["exit"] != 0:
            raise SystemExit(f"ernest-rules export failed with exit {result['exit']}: {stderr[-2000:]}")
        written = duckdb.sql(f"SELECT count(*) FROM read_parquet('{output}')").fetchall()[0][0]
        size = output.stat().st_size
    peak = max(result["peak_rss_bytes"] or 0, sampled)
    return {"rule": EXPORT_RULE, "purpose": EXPORT_PURPOSE, "recipients": written, "file_bytes": size,
            "seconds": result["seconds"], "wall_seconds": wall, "peak_rss_bytes": peak, "module": result.get("module"),
            "peak_rss_gb": peak / 1e9, "load": [before, load()]}


# ---------------------------------------------------------------- summary


def verdict(name: str, value: float | None) -> str:
    if value is None or value != value:  # None or NaN
        return "n/a"
    comparison, target = TARGETS[name]
    ok = value <= target if comparison == "le" else value >= target
    return "met" if ok else "MISSED"


def summarise(results: dict) -> tuple[list[tuple[str, str, str, str, str]], dict[str, str]]:
    """Rows (figure, data, median, target, verdict) and the verdict of each target (worst over data sets)."""
    rows = []
    verdicts: dict[str, str] = {}

    def add(name: str, figure: str, data: str, value: float | None, shown: str):
        comparison, target = TARGETS[name]
        mark = verdict(name, value)
        rows.append((figure, data, shown, f"{'≤' if comparison == 'le' else '≥'} {target:g}", mark))
        if mark != "n/a" and verdicts.get(name) != "MISSED":
            verdicts[name] = mark

    compile_ = results["compile"]
    add("compile_typical_ms", "compile: typical rule", f"{compile_['typical']['iterations']} runs",
        compile_["typical"]["median_ms"], f"{compile_['typical']['median_ms']:.3f} ms")
    add("compile_200_ms", "compile: 200 conditions", f"{compile_['200_conditions']['iterations']} runs",
        compile_["200_conditions"]["median_ms"], f"{compile_['200_conditions']['median_ms']:.2f} ms")
    for entry in results["datasets"]:
        data = f"{entry['rows']:,} candidats"
        rows.append(("open_export (not in resolve)", data, f"{median(entry['open_export_s']):.3f} s", "", ""))
        res = entry["resolve"]
        rows.append(("resolve: product (s)", data, f"{res['product_median_s']:.3f} s", "", ""))
        rows.append(("resolve: hand SQL (s)", data, f"{res['hand_median_s']:.3f} s", "", ""))
        add("hand_sql_ratio", "resolve: product / hand SQL", data, res["ratio"],
            f"{res['ratio']:.2f} (min/min {res['ratio_of_minimums']:.2f})")
        pandas_ = entry.get("pandas")
        if pandas_ and "speedup" in pandas_:
            add("pandas_speedup", "pandas time / product time", data, pandas_["speedup"],
                f"{pandas_['speedup']:.1f}× ({pandas_['pandas_median_s']:.2f} s)")
        manual = entry.get("manual")
        if manual:
            add("manual_100k_added_s", "100,000 manual ids: added", data, manual["added_s"], f"{manual['added_s']:+.3f} s")
    export = results.get("export")
    if export and export.get("stopped"):
        # Stopped before the end: the peak is a lower bound, already above the target or not conclusive.
        data = f"{export['rows']:,} candidats (stopped)"
        value = export["peak_rss_gb"] if export["peak_rss_gb"] > TARGETS["export_peak_rss_gb"][1] else None
        add("export_peak_rss_gb", "export to Parquet: peak RSS", data, value, f"≥ {export['peak_rss_gb']:.2f} GB ({export['seconds']:.1f} s)")
    elif export:
        data = f"{export['rows']:,} candidats, {export['recipients']:,} recipients"
        value = export["peak_rss_gb"] if export["recipients"] >= EXPORT_MIN_RECIPIENTS else None
        add("export_peak_rss_gb", "export to Parquet: peak RSS", data, value, f"{export['peak_rss_gb']:.2f} GB ({export['seconds']:.1f} s)")
    for growth in results.get("growth", []):
        rows.append((f"growth {growth['from']:,} → {growth['to']:,}", f"×{growth['rows_ratio']:g} rows",
                     f"product ×{growth['product']:.1f}, hand ×{growth['hand']:.1f}"
                     + (f", pandas ×{growth['pandas']:.1f}" if growth.get("pandas") else ""), "≈ linear", ""))
    return rows, verdicts


def print_table(rows) -> None:
    headers = ("figure", "data", "median", "target", "verdict")
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(5)]
    line = "  ".join(f"{{:<{width}}}" for width in widths)
    print(line.format(*headers))
    print(line.format(*("-" * width for width in widths)))
    for row in rows:
        print(line.format(*row))


# ---------------------------------------------------------------- main


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Benchmark ernest_rules (see benchmarks/README.md).")
    parser.add_argument("--rows", default=None, help="comma-separated data set sizes in candidats (default 1000000,10000000)")
    parser.add_argument("--quick", action="store_true", help="200,000 rows, fewer repetitions; exit 1 when a ratio target is missed")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions of each timed resolution (default 5; 3 with --quick)")
    parser.add_argument("--pandas-repeat", type=int, default=None, help="repetitions of the pandas version (default min(repeat, 3); 1 above 2M rows)")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/ernest-bench"), help="where data sets are generated (default /tmp/ernest-bench)")
    parser.add_argument("--json", type=Path, default=None, help="results file (default <data-dir>/results/results-<time>.json)")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas comparison")
    parser.add_argument("--no-export", action="store_true", help="skip the export memory figure")
    parser.add_argument("--memory-reserve", type=float, default=3.0,
                        help="stop the export child if the machine has less than this many GB available (default 3)")
    args = parser.parse_args(argv)
    rows = args.rows or ("200000" if args.quick else "1000000,10000000")
    args.sizes = sorted({int(value.replace("_", "")) for value in rows.split(",") if value.strip()})
    args.repeat = args.repeat or (3 if args.quick else 5)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    results: dict = {"started": dt.datetime.now().isoformat(timespec="seconds"), "command": " ".join(sys.argv),
                     "quick": args.quick, "repeat": args.repeat, "machine": machine(), "load_at_start": load(),
                     "targets": TARGETS, "datasets": []}
    say(f"machine: {results['machine']['cores']} cores, {results['machine']['memory']}, Python {results['machine']['python']}, "
        f"DuckDB {results['machine']['duckdb']}; {results['load_at_start']['uptime']}")
    folders = {rows: dataset(args.data_dir, rows) for rows in args.sizes}

    say("compile times…")
    results["compile"] = bench_compile(1000 if args.quick else 5000, 50 if args.quick else 300)

    for rows in args.sizes:
        bench = Bench(folders[rows], rows)
        entry: dict = {"rows": rows, "folder": str(folders[rows]), "sizes": bench.sizes, "open_export_s": bench.open_seconds}
        say(f"{rows:,} candidats: resolve, product against hand-written SQL ({args.repeat} runs each)…")
        entry["resolve"] = bench_resolve(bench, args.repeat)
        say(f"  product {entry['resolve']['product_median_s']:.3f} s, hand {entry['resolve']['hand_median_s']:.3f} s, "
            f"ratio {entry['resolve']['ratio']:.2f}; {entry['resolve']['recipients']} recipients, identical results")
        if not args.no_pandas:
            repeat = args.pandas_repeat or (1 if rows > 2_000_000 else min(args.repeat, 3))
            say(f"  pandas ({repeat} runs)…")
            entry["pandas"] = bench_pandas(bench, repeat, entry["resolve"]["product_median_s"])
            if "speedup" in entry["pandas"]:
                say(f"  pandas {entry['pandas']['pandas_median_s']:.2f} s, product {entry['pandas']['speedup']:.1f}× faster; "
                    f"check {entry['pandas']['check']}")
        say(f"  100,000 manual ids against none ({args.repeat} runs each)…")
        entry["manual"] = bench_manual(bench, args.repeat)
        say(f"  added {entry['manual']['added_s']:+.3f} s")
        bench.close()
        results["datasets"].append(entry)

    if not args.no_export:
        rows = args.sizes[-1]
        say(f"export of {EXPORT_RULE!r} on {rows:,} candidats in a child process…")
        export = bench_export(folders[rows], args.data_dir / "work", int(args.memory_reserve * 1e9))
        export["rows"] = rows
        results["export"] = export
        say(f"  {export['recipients'] or 0:,} recipients, peak RSS {export['peak_rss_gb']:.2f} GB, {export['seconds']:.1f} s"
            + (f" ({export['note']})" if export.get("stopped") else ""))

    growth = []
    first = results["datasets"][0]
    for later in results["datasets"][1:]:
        item = {"from": first["rows"], "to": later["rows"], "rows_ratio": later["rows"] / first["rows"],
                "product": later["resolve"]["product_median_s"] / first["resolve"]["product_median_s"],
                "hand": later["resolve"]["hand_median_s"] / first["resolve"]["hand_median_s"]}
        if "speedup" in first.get("pandas", {}) and "speedup" in later.get("pandas", {}):
            item["pandas"] = later["pandas"]["pandas_median_s"] / first["pandas"]["pandas_median_s"]
        growth.append(item)
    results["growth"] = growth
    results["load_at_end"] = load()
    results["seconds"] = time.perf_counter() - started

    rows, verdicts = summarise(results)
    results["verdicts"] = verdicts
    print()
    print_table(rows)
    print(f"\nload at start: {results['load_at_start']['uptime']}\nload at end:   {results['load_at_end']['uptime']}")
    path = args.json or args.data_dir / "results" / f"results-{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if args.quick else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    print(f"results written to {path} ({results['seconds']:.0f} s)")

    if args.quick:
        missed = [name for name in QUICK_GATES if verdicts.get(name) == "MISSED"]
        if missed:
            print(f"quick check FAILED: {', '.join(missed)} missed its target", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
