"""The `ernest-rules` command: check, sql, select, preview and export.

Exit codes: 0 success, 2 a problem with the user's input (rule, list file,
export, option), 1 an internal error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from . import __version__
from .catalog import load_catalog
from .compile import compile_rule
from .errors import ErnestRulesError, Problem
from .export import open_export
from .i18n import _, detect_language, set_language, text
from .dates import today_in
from .listdef import load_definition
from .resolve import resolve
from .store_cli import STORE_COMMANDS, add_store_commands
from .words import describe

logger = logging.getLogger("ernest_rules")

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2


def N_(message: str) -> str:
    """Mark an argparse message for extraction; argparse translates it through `_argparse_text`."""
    return message


# argparse builds these texts itself; listing them here puts them in the message catalog.
ARGPARSE_MESSAGES = [
    N_("usage: "), N_("positional arguments"), N_("options"), N_("show this help message and exit"),
    N_("the following arguments are required: %s"), N_("unrecognized arguments: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"), N_("%(prog)s: error: %(message)s\n"),
    N_("expected one argument"), N_("invalid %(type)s value: %(value)r"), N_("argument %(argument_name)s: %(message)s"),
    N_("show program's version number and exit"),
]


def build_parser(lang: str) -> argparse.ArgumentParser:
    def say(msgid: str) -> str:
        return text(msgid, lang)

    def common_options(defaults: bool) -> argparse.ArgumentParser:
        # Subcommands repeat the global options without defaults, so `-v` works before or after the command.
        extra = {} if defaults else {"default": argparse.SUPPRESS}
        options = argparse.ArgumentParser(add_help=False)
        options.add_argument("--lang", choices=["fr", "en"], help=say("language of messages (default: from $ERNEST_RULES_LANG or the locale)"), **extra)
        options.add_argument("-v", "--verbose", action="store_true", help=say("log what is read and how long each stage takes"), **extra)
        options.add_argument("--catalog", metavar="FILE", help=say("catalog JSON file describing another export layout"), **extra)
        options.add_argument("--rules", metavar="PATH", help=say("saved rules for @name references: a TOML file or a folder of .rule files"), **extra)
        options.add_argument("--today", metavar="DATE", help=say("date that 'today' stands for, as 2025-03-10 or 10/03/2025 (default: today in Paris)"), **extra)
        return options

    common = common_options(defaults=False)

    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data", metavar="DIR",
                      help=say("export folder (Parquet or French CSV); default: $ERNEST_RULES_DATA, else the bundled samples"))
    data.add_argument("--memory-limit", metavar="SIZE",
                      help=say("memory DuckDB may use, such as 2GB (default: $ERNEST_RULES_MEMORY_LIMIT, else 80%% of RAM)"))
    data.add_argument("--time-limit", type=float, metavar="SECONDS",
                      help=say("stop a query that runs longer than this (default: $ERNEST_RULES_TIME_LIMIT, else no limit)"))

    parser = argparse.ArgumentParser(prog="ernest-rules", parents=[common_options(defaults=True)],
                                     description=say("Build Ernest mailing lists from rules over an export."))
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}", help=say("show program's version number and exit"))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = commands.add_parser("check", parents=[common], help=say("validate a rule and say it in words"))
    check.add_argument("rule", metavar="RULE", help=say("the rule, or - to read it from standard input"))
    check.add_argument("--data", metavar="DIR", help=say("export folder: also warn about values absent from the data"))

    sql = commands.add_parser("sql", parents=[common], help=say("print the SQL of a rule and its parameters"))
    sql.add_argument("rule", metavar="RULE", help=say("the rule, or - to read it from standard input"))

    select = commands.add_parser("select", parents=[common, data], help=say("list the rows a rule selects, with their count"))
    select.add_argument("rule", metavar="RULE", help=say("the rule, or - to read it from standard input"))
    select.add_argument("--limit", type=int, default=20, metavar="N", help=say("rows to show (default 20; 0 shows only the count)"))

    listing = argparse.ArgumentParser(add_help=False)
    listing.add_argument("--suppression", action="append", metavar="FILE",
                         help=say("file of addresses that must never be sent to (repeatable; default: $ERNEST_RULES_SUPPRESSION)"))
    listing.add_argument("--allow-all", action="store_true",
                         help=say("confirm sections that have no condition or select more than the allowed share of their kind"))
    listing.add_argument("--max-share", type=float, metavar="RATIO",
                         help=say("largest share (0 to 1) of a kind a section may select without --allow-all (default 0.75)"))
    listing.add_argument("--include-excluded", action="store_true",
                         help=say("also show or write the rows left out, with their reason"))

    preview = commands.add_parser("preview", parents=[common, data, listing], help=say("show the recipients of a list file and a summary"))
    preview.add_argument("list_file", metavar="LIST_FILE", help=say("list definition (.toml or .json)"))
    preview.add_argument("--limit", type=int, default=20, metavar="N", help=say("recipients to show (default 20)"))

    fmt = commands.add_parser("fmt", parents=[common], help=say("print a rule in its canonical form"))
    fmt.add_argument("rule", metavar="RULE", help=say("the rule, or - to read it from standard input"))
    fmt.add_argument("--width", type=int, default=88, metavar="N", help=say("break rules longer than N characters (default 88)"))
    fmt.add_argument("--json", action="store_true", help=say("read RULE as a JSON syntax tree written by the tree command"))

    tree = commands.add_parser("tree", parents=[common], help=say("print the syntax tree of a rule as JSON"))
    tree.add_argument("rule", metavar="RULE", help=say("the rule, or - to read it from standard input"))
    tree.add_argument("--spans", action="store_true", help=say("include the place of each node in the rule text"))

    explain = commands.add_parser("explain", parents=[common, data],
                                  help=say("say a rule or a list's rules in words and count the rows each condition keeps"))
    explain.add_argument("target", metavar="RULE|LIST_FILE", help=say("a rule, or a list definition (.toml or .json)"))
    explain.add_argument("--width", type=int, default=40, metavar="N", help=say("width of the bars in characters (default 40)"))

    export = commands.add_parser("export", parents=[common, data, listing], help=say("write the recipients of a list file to CSV, JSON or Parquet"))
    export.add_argument("list_file", metavar="LIST_FILE", help=say("list definition (.toml or .json)"))
    export.add_argument("--output", "-o", required=True, metavar="FILE", help=say("output file; its extension (.csv, .json, .parquet) sets the format"))
    add_store_commands(commands, say, {"common": common, "data": data})
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        lang = detect_language(_language_option(argv))
    except ValueError:
        lang = "en"
    set_language(lang)
    _translate_argparse(lang)
    parser = build_parser(lang)
    try:
        options = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_USAGE if exit_.code not in (0, None) else EXIT_OK
    _configure_logging(options.verbose)
    try:
        return COMMANDS[options.command](options, lang)
    except ErnestRulesError as error:
        print(error.render(lang), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(text("interrupted", lang), file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as error:  # noqa: BLE001 - last resort: never show a traceback without -v
        logger.debug("internal error", exc_info=True)
        detail = f"{type(error).__name__}: {error}"
        print(text("internal error: {error}. Run again with -v for details and report it.", lang, error=detail), file=sys.stderr)
        return EXIT_INTERNAL


def _language_option(argv: list[str]) -> str | None:
    for index, argument in enumerate(argv):
        if argument == "--lang" and index + 1 < len(argv):
            return argv[index + 1]
        if argument.startswith("--lang="):
            return argument.split("=", 1)[1]
    return None


def _translate_argparse(lang: str) -> None:
    """Route argparse's own texts (usage, errors) through our French catalog."""
    argparse._ = lambda message: text(message, lang) if message in ARGPARSE_MESSAGES else message  # type: ignore[attr-defined]
    argparse.ngettext = lambda singular, plural, count: text(singular if count == 1 else plural, lang)  # type: ignore[attr-defined]


def _configure_logging(verbose: bool) -> None:
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


@contextmanager
def progress(message: str) -> Iterator[None]:
    """Show a spinner on an interactive terminal only (quiet in pipes and CI)."""
    if not sys.stderr.isatty() or os.environ.get("CI"):
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield


def _read_rule(argument: str) -> str:
    text = sys.stdin.read() if argument == "-" else argument
    # Editors on Windows start files with a byte order mark.
    return text.removeprefix("\ufeff")


def _catalog(options):
    return load_catalog(options.catalog)


def _rules(options):
    """Saved rules from --rules: a TOML file, a folder of .rule files, or a store file (.duckdb)."""
    from .rulebook import load_rulebook

    if not options.rules:
        return None
    if options.rules.endswith(".duckdb"):
        from .store import Store

        return Store(options.rules).rulebook()
    return load_rulebook(options.rules)


def _today(options):
    if not options.today:
        return None
    import datetime as dt

    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(options.today, pattern).date()
        except ValueError:
            continue
    raise ErnestRulesError(Problem(_("--today must be a date such as 2025-03-10 or 10/03/2025, not {value}", value=options.today)))


def _open(options):
    export = open_export(options.data, _catalog(options), memory_limit=options.memory_limit, time_limit=options.time_limit)
    lang = detect_language()
    for warning in export.warnings:
        print(text("warning: {message}", lang, message=warning.render(lang)), file=sys.stderr)
    return export


def _compile(options):
    return compile_rule(_read_rule(options.rule), _catalog(options), rules=_rules(options), today=_today(options))


# ---------------------------------------------------------------- commands


def run_check(options, lang: str) -> int:
    started = time.perf_counter()
    compiled = _compile(options)
    logger.info("compiled in %.2f ms", (time.perf_counter() - started) * 1000)
    print(text("valid rule", lang))
    print(describe(compiled.checked, lang))
    print(text("Date used for today: {date}", lang, date=compiled.today.isoformat()))
    if options.data:
        options.memory_limit, options.time_limit = None, None
        _print_value_warnings([compiled], _open(options), lang)
    return EXIT_OK


def _print_value_warnings(rules, export, lang: str) -> None:
    """Warn on stderr about compared values that no row holds; warnings never change the exit code."""
    from .warnings import value_warnings

    for compiled in rules:
        for warning in value_warnings(compiled, export):
            print(warning.render(lang), file=sys.stderr)


def run_fmt(options, lang: str) -> int:
    from .format import format_rule
    from .parse import parse
    from .treejson import loads

    source = _read_rule(options.rule)
    rule = loads(source) if options.json else parse(source)
    print(format_rule(rule, lang, options.width))
    return EXIT_OK


def run_tree(options, lang: str) -> int:
    from .parse import parse
    from .treejson import dumps

    print(dumps(parse(_read_rule(options.rule)), spans=options.spans))
    return EXIT_OK


def run_explain(options, lang: str) -> int:
    from .explain import explain_definition, explain_rule, render_funnel

    if options.width < 1:
        raise ErnestRulesError(Problem(_("--width must be 1 or more, not {value}", value=options.width)))
    target = options.target
    is_list = Path(target).suffix.lower() in (".toml", ".json") and "\n" not in target
    export = _open(options)
    with export.limited():
        if is_list:
            explanations = explain_definition(target, export, lang, rules=_rules(options), today=_today(options))
        else:
            options.rule = target
            compiled = _compile(options)
            _print_value_warnings([compiled], export, lang)
            explanations = [explain_rule(compiled, export, lang)]
    print("\n\n".join(render_funnel(explanation, lang, options.width) for explanation in explanations))
    print(text("Date used for today: {date}", lang, date=(_today(options) or today_in(export.catalog.timezone)).isoformat()))
    return EXIT_OK


def run_sql(options, lang: str) -> int:
    compiled = _compile(options)
    print(compiled.rows_sql + ";")
    print()
    print(text("parameters:", lang))
    print(json.dumps(compiled.params, ensure_ascii=False, indent=2, default=str))
    return EXIT_OK


def run_select(options, lang: str) -> int:
    from .display import print_rows

    catalog = _catalog(options)
    compiled = _compile(options)
    _check_limit(options.limit)
    with progress(text("reading the export…", lang)):
        export = _open(options)
        started = time.perf_counter()
        with export.limited():
            count = export.connection.execute(f"SELECT count(*) FROM ({compiled.keys_sql})", compiled.params or None).fetchall()[0][0]
        logger.info("counted %d rows in %.3f s", count, time.perf_counter() - started)
    _print_value_warnings([compiled], export, lang)
    print_rows(export, compiled, options.limit, lang)
    print(text("matching rows: {count} ({entity})", lang, count=count, entity=compiled.entity.label(lang)))
    print(text("Date used for today: {date}", lang, date=compiled.today.isoformat()))
    return EXIT_OK


def _resolve(options, lang: str):
    if options.max_share is not None and not 0 < options.max_share <= 1:
        raise ErnestRulesError(Problem(_("--max-share must be more than 0 and at most 1, not {value}", value=options.max_share)))
    with progress(text("resolving the list…", lang)):
        definition = load_definition(options.list_file)
        return resolve(definition, export=_open(options), suppression_files=options.suppression, allow_all=options.allow_all, max_share=options.max_share,
                       rules=_rules(options), today=_today(options))


def run_preview(options, lang: str) -> int:
    from .display import print_excluded, print_recipients, print_summary

    _check_limit(options.limit)
    resolution = _resolve(options, lang)
    _print_value_warnings(resolution.rules(), resolution.export, lang)
    print_recipients(resolution, options.limit, lang)
    if resolution.report.recipients > options.limit:
        print(text("{shown} of {count} recipients shown; use --limit N to see more", lang, shown=options.limit,
                   count=resolution.report.recipients))
    if options.include_excluded:
        print_excluded(resolution, options.limit, lang)
    print_summary(resolution.report, lang)
    return EXIT_OK


def run_export(options, lang: str) -> int:
    from .display import print_summary
    from .output import output_format

    output = Path(options.output)
    output_format(output)
    resolution = _resolve(options, lang)
    with progress(text("writing {file}…", lang, file=output)):
        count = resolution.write(output, include_excluded=options.include_excluded)
    print_summary(resolution.report, lang)
    print(text("{count} rows written to {file}", lang, count=count, file=output))
    return EXIT_OK


def _check_limit(limit: int) -> None:
    if limit < 0:
        raise ErnestRulesError(Problem(_("--limit must be 0 or more, not {value}", value=limit)))


COMMANDS = {"check": run_check, "sql": run_sql, "select": run_select, "preview": run_preview, "export": run_export,
            "explain": run_explain, "fmt": run_fmt, "tree": run_tree}
COMMANDS.update(STORE_COMMANDS)

