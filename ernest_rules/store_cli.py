"""The `store`, `snapshot` and `serve` commands of `ernest-rules`.

`add_store_commands` adds them to the CLI's subparsers; `STORE_COMMANDS` maps
each command name to its handler, called as `handler(options, lang)` like the
other commands. Handlers raise `ErnestRulesError` for the user's mistakes,
which the CLI prints and turns into exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Mapping

from .errors import ErnestRulesError, Problem
from .i18n import Quoted, _, text
from .report import REASON_TEXT
from .store_schema import STORE_ENV_VAR, USER_ENV_VAR, default_store_path

EXIT_OK = 0

DIFF_REASONS = {
    "newly_selected": _("newly selected"),
    "no_longer_selected": _("no longer selected"),
    "added_by_hand": _("added by hand"),
}


def add_store_commands(subparsers, say: Callable[[str], str], parents: Mapping[str, argparse.ArgumentParser]) -> None:
    """Add `store`, `snapshot` and `serve` to the CLI; `parents` maps "common" and "data" to the CLI's shared option parsers."""
    common, data = parents["common"], parents["data"]
    # Like the CLI's common options, these are accepted at every level of a command:
    # `store --store X rules list` and `store rules list --store X`. They have no default,
    # because a lower level would write it over the value given higher up.
    # Handlers read them with getattr.
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--store", metavar="PATH", default=argparse.SUPPRESS,
                       help=say("store file of saved lists, rules and snapshots (default: $ERNEST_RULES_STORE, else ernest-rules.duckdb in the current folder)"))
    where.add_argument("--user", metavar="NAME", default=argparse.SUPPRESS,
                       help=say("name recorded with each saved version (default: $ERNEST_RULES_USER, else the login name)"))
    leaf = [common, where]

    store = subparsers.add_parser("store", parents=leaf, help=say("save, show and delete list definitions and named rules, with their history"))
    actions = store.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    _object_actions(actions, say, leaf, "list")
    rules = actions.add_parser("rules", parents=leaf, help=say("the same actions for named rules"))
    _object_actions(rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True), say, leaf, "rule")

    snapshot = subparsers.add_parser("snapshot", parents=leaf, help=say("freeze the recipients of a saved list when a campaign starts"))
    steps = snapshot.add_subparsers(dest="snapshot_command", metavar="ACTION", required=True)
    create = steps.add_parser("create", parents=[*leaf, data], help=say("resolve a saved list and store its recipients as a snapshot"))
    create.add_argument("list_name", metavar="LIST", help=say("name of the saved list"))
    create.add_argument("--campaign", metavar="NAME", help=say("campaign the snapshot is for"))
    _hygiene_options(create, say)
    listing = steps.add_parser("list", parents=leaf, help=say("list the snapshots"))
    listing.add_argument("--list", dest="list_name", metavar="LIST", help=say("only the snapshots of this list"))
    show = steps.add_parser("show", parents=leaf, help=say("show a snapshot's report"))
    show.add_argument("snapshot_id", type=int, metavar="ID")
    export = steps.add_parser("export", parents=leaf, help=say("write a snapshot's recipients to CSV, JSON or Parquet"))
    export.add_argument("snapshot_id", type=int, metavar="ID")
    export.add_argument("--output", "-o", required=True, metavar="FILE", help=say("output file; its extension (.csv, .json, .parquet) sets the format"))
    add = steps.add_parser("add", parents=leaf, help=say("add recipients by hand to a snapshot"))
    add.add_argument("snapshot_id", type=int, metavar="ID")
    add.add_argument("file", metavar="FILE", help=say("file of addresses: one per line, or CSV with an email column"))
    send = steps.add_parser("send", parents=[*leaf, data], help=say("recipients at send time: the snapshot minus those who opted out since"))
    send.add_argument("snapshot_id", type=int, metavar="ID")
    send.add_argument("--suppression", action="append", metavar="FILE",
                      help=say("file of addresses that must never be sent to (repeatable; default: $ERNEST_RULES_SUPPRESSION)"))
    send.add_argument("--output", "-o", metavar="FILE", help=say("output file; its extension (.csv, .json, .parquet) sets the format"))
    diff = steps.add_parser("diff", parents=[*leaf, data], help=say("recipients added and removed between two snapshots, or since a snapshot"))
    diff.add_argument("source", type=int, metavar="ID")
    diff.add_argument("target", type=int, nargs="?", metavar="LATER_ID", help=say("later snapshot; leave out to compare with the list resolved now"))
    diff.add_argument("--allow-all", action="store_true", default=None,
                      help=say("confirm sections that have no condition or select more than the allowed share of their kind"))
    diff.add_argument("--limit", type=int, default=20, metavar="N", help=say("rows to show (default 20; 0 shows only the count)"))

    serve = subparsers.add_parser("serve", parents=[*leaf, data], help=say("run the HTTP service on this machine"))
    serve.add_argument("--host", default="127.0.0.1", help=say("address to listen on (default 127.0.0.1, this machine only)"))
    serve.add_argument("--port", type=int, default=8000, help=say("port to listen on (default 8000)"))


def _object_actions(actions, say: Callable[[str], str], leaf: list[argparse.ArgumentParser], object_kind: str) -> None:
    actions.add_parser("list", parents=leaf, help=say("list the saved names and their current version"))
    show = actions.add_parser("show", parents=leaf, help=say("print the text of the current or a given version"))
    show.add_argument("name", metavar="NAME")
    show.add_argument("--version", type=int, metavar="N", help=say("version to print (default: the current one)"))
    save = actions.add_parser("save", parents=leaf, help=say("check a file and save it as a new version"))
    save.add_argument("name", metavar="NAME")
    file_help = say("list definition (.toml or .json)") if object_kind == "list" else say("the rule, or - to read it from standard input")
    save.add_argument("file", metavar="FILE", help=file_help)
    delete = actions.add_parser("delete", parents=leaf, help=say("delete; the history is kept"))
    delete.add_argument("name", metavar="NAME")
    history = actions.add_parser("history", parents=leaf, help=say("list every version, with who saved it, when and what changed"))
    history.add_argument("name", metavar="NAME")


def _hygiene_options(parser: argparse.ArgumentParser, say: Callable[[str], str]) -> None:
    parser.add_argument("--suppression", action="append", metavar="FILE",
                        help=say("file of addresses that must never be sent to (repeatable; default: $ERNEST_RULES_SUPPRESSION)"))
    parser.add_argument("--allow-all", action="store_true",
                        help=say("confirm sections that have no condition or select more than the allowed share of their kind"))
    parser.add_argument("--max-share", type=float, metavar="RATIO",
                        help=say("largest share (0 to 1) of a kind a section may select without --allow-all (default 0.75)"))


# ---------------------------------------------------------------- handlers


def _store(options):
    from .catalog import load_catalog
    from .store import Store

    return Store(getattr(options, "store", None) or default_store_path(), user=getattr(options, "user", None),
                 catalog=load_catalog(getattr(options, "catalog", None)))


def _today(options):
    from . import cli

    return cli._today(options)


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ErnestRulesError(Problem(_("the file {file} does not exist", file=Quoted(path)))) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ErnestRulesError(Problem(_("cannot read {file}: {reason}", file=Quoted(path), reason=str(error)))) from None


def run_store(options, lang: str) -> int:
    """Run `store ACTION` (lists) or `store rules ACTION` (named rules)."""
    from .store import summary_text

    store = _store(options)
    object_kind, action = ("rule", options.rules_command) if options.store_command == "rules" else ("list", options.store_command)
    kind_word = text("list", lang) if object_kind == "list" else text("rule", lang)
    if action == "list":
        for info in store.names(object_kind):
            print(f"{info.name}\tv{info.version}\t{_time(info.saved_at)}\t{info.saved_by}")
    elif action == "show":
        saved = store.get(object_kind, options.name, options.version)
        if saved.deleted:
            print(text("version {version} of the {object_kind} {name} is a deletion", lang, version=saved.version, object_kind=kind_word,
                       name=Quoted(saved.name)), file=sys.stderr)
            return EXIT_OK
        print(saved.text, end="" if saved.text.endswith("\n") else "\n")
    elif action == "save":
        content = _read(options.file)
        if object_kind == "list":
            form = "json" if options.file.lower().endswith(".json") else None
            info = store.save_list(options.name, content, form)
        else:
            info = store.save_rule(options.name, content.strip())
        if info.changed:
            print(text("saved the {object_kind} {name} as version {version} ({summary})", lang, object_kind=kind_word, name=Quoted(info.name),
                       version=info.version, summary=summary_text(info.summary, lang)))
        else:
            print(text("the {object_kind} {name} is unchanged (version {version})", lang, object_kind=kind_word, name=Quoted(info.name),
                       version=info.version))
    elif action == "delete":
        info = store.delete(object_kind, options.name)
        print(text("deleted the {object_kind} {name} (version {version}); its history is kept", lang, object_kind=kind_word,
                   name=Quoted(info.name), version=info.version))
    else:
        for info in store.history(object_kind, options.name):
            print(f"v{info.version}\t{_time(info.saved_at)}\t{info.saved_by}\t{summary_text(info.summary, lang)}")
    return EXIT_OK


def run_snapshot(options, lang: str) -> int:
    """Run `snapshot create|list|show|export|add|send|diff`."""
    from . import snapshots
    from .display import print_summary

    store = _store(options)
    action = options.snapshot_command
    if action == "create":
        if options.max_share is not None and not 0 < options.max_share <= 1:
            raise ErnestRulesError(Problem(_("--max-share must be more than 0 and at most 1, not {value}", value=options.max_share)))
        snapshot = snapshots.snapshot_create(store, options.list_name, export=_export(options), campaign=options.campaign, today=_today(options),
                                             allow_all=options.allow_all, max_share=options.max_share, suppression_files=options.suppression)
        print_summary(snapshot.report, lang)
        print(text("snapshot {id} created: {count} recipients of the list {name}, version {version}", lang, id=snapshot.id,
                   count=snapshot.recipients, name=Quoted(snapshot.list_name), version=snapshot.list_version))
    elif action == "list":
        for snapshot in snapshots.snapshot_list(store, options.list_name):
            print(f"{snapshot.id}\t{snapshot.list_name}\tv{snapshot.list_version}\t{snapshot.campaign or '-'}\t{_time(snapshot.created_at)}\t"
                  f"{snapshot.recipients}")
    elif action == "show":
        snapshot = snapshots.snapshot_get(store, options.snapshot_id)
        print(text("snapshot {id}: list {name}, version {version}, campaign {campaign}, created {time} by {user}", lang, id=snapshot.id,
                   name=Quoted(snapshot.list_name), version=snapshot.list_version, campaign=snapshot.campaign or "-",
                   time=_time(snapshot.created_at), user=snapshot.created_by))
        print_summary(snapshot.report, lang)
        print(text("Added by hand: {count}", lang, count=snapshot.added_by_hand))
    elif action == "export":
        count = snapshots.snapshot_write(store, options.snapshot_id, options.output)
        print(text("{count} rows written to {file}", lang, count=count, file=options.output))
    elif action == "add":
        from .suppression import read_suppression_file

        result = snapshots.snapshot_add(store, options.snapshot_id, read_suppression_file(options.file))
        for row in result.already_present:
            print(text("already in the snapshot: {address}", lang, address=row["email"]))
        for row in result.rejected:
            print(text("not added: {address} ({reason})", lang, address=row["email"], reason=REASON_TEXT[row["reason"]].render(lang)))
        print(text("{count} recipients added to snapshot {id}", lang, count=len(result.added), id=options.snapshot_id))
    elif action == "send":
        return _send(store, options, lang)
    else:
        return _diff(store, options, lang)
    return EXIT_OK


def _export(options):
    from . import cli

    return cli._open(options)


def _send(store, options, lang: str) -> int:
    from . import snapshots

    data = options.data
    export = _export(options) if data else None
    result = snapshots.snapshot_recipients(store, options.snapshot_id, export=export, suppression_files=options.suppression)
    for row in result.removed.to_pylist():
        print(text("removed since the snapshot: {address} ({reason})", lang, address=row["email"], reason=REASON_TEXT[row["reason"]].render(lang)))
    if result.export_changed:
        print(text("warning: the export files changed since the snapshot was made", lang), file=sys.stderr)
    if options.output:
        _write_arrow(result.recipients, options.output)
    print(text("{count} recipients to send to, {removed} removed since the snapshot", lang, count=result.recipients.num_rows,
               removed=result.removed.num_rows))
    return EXIT_OK


def _write_arrow(table, path: str) -> None:
    import duckdb
    import pyarrow as pa

    from .output import write_table

    connection = duckdb.connect()
    try:
        connection.register("er_rows", table.append_column("position", pa.array(range(table.num_rows), pa.int64())))
        write_table(connection, "er_rows", path)
    finally:
        connection.close()


def _diff(store, options, lang: str) -> int:
    from . import snapshots

    if options.target is None:
        export = _export(options) if options.data else None
        diff = snapshots.snapshot_diff_now(store, options.source, export=export, today=_today(options), allow_all=options.allow_all)
    else:
        diff = snapshots.snapshot_diff(store, options.source, options.target)
    for sign, table in (("+", diff.added), ("-", diff.removed)):
        for row in table.slice(0, max(options.limit, 0)).to_pylist():
            print(f"{sign} {row['email']}\t{_diff_reason(row, lang)}")
    print(text("{added} added, {removed} removed", lang, added=diff.added.num_rows, removed=diff.removed.num_rows))
    return EXIT_OK


def _diff_reason(row: dict, lang: str) -> str:
    if row["reason"] == "excluded":
        return text("now left out: {reason}", lang, reason=REASON_TEXT[row["exclusion"]].render(lang))
    words = DIFF_REASONS[row["reason"]].render(lang)
    if row["exclusion"]:
        words = text("{reason} (was left out: {exclusion})", lang, reason=words, exclusion=REASON_TEXT[row["exclusion"]].render(lang))
    return words


def run_serve(options, lang: str) -> int:
    """Run the HTTP service until interrupted."""
    from .catalog import load_catalog
    from .export import default_data_dir
    from .service import run_service

    run_service(getattr(options, "store", None) or default_store_path(), options.data or default_data_dir(), host=options.host,
                port=options.port, catalog=load_catalog(getattr(options, "catalog", None)))
    return EXIT_OK


def _time(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


STORE_COMMANDS = {"store": run_store, "snapshot": run_snapshot, "serve": run_serve}

__all__ = ["STORE_COMMANDS", "STORE_ENV_VAR", "USER_ENV_VAR", "add_store_commands"]
