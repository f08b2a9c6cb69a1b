"""`shiori library add|list`, and the library every other command runs in (db.tenancy):
`shiori --library CODE <command>`; without it a command runs in the default library,
and the timers (`holds daily`, `retention run`, `alerts send`, `mail send`, the mail
worker) run for every library in turn."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from db import queries
from web.settings import Settings, SettingsError, parse_branches

Setup = Callable[[Settings], None]
Command = Callable[[Settings, argparse.Namespace], int]

OPTION = "--library"
FAILED = 1  # a library whose run raised: the others still run

log = logging.getLogger(__name__)


def split_library(words: Sequence[str]) -> tuple[str | None, list[str]]:
    """The leading `--library CODE` (or `--library=CODE`) and the words after it, so the
    option comes before any command, `shiori import …` included."""
    rest = list(words)
    if rest[:1] == [OPTION] and len(rest) > 1:
        return rest[1], rest[2:]
    if rest and rest[0].startswith(OPTION + "="):
        return rest[0].split("=", 1)[1], rest[1:]
    return None, rest


def add_option(parser: argparse.ArgumentParser) -> None:
    """Documents the option in `shiori --help` (split_library takes it off first)."""
    parser.add_argument(
        OPTION,
        metavar="CODE",
        help="the library to run the command in (shiori library list); default: the "
        "default library, and for the timers every library",
    )


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], setup: Setup) -> None:
    library = sub.add_parser("library", help="the libraries of a multi-library PostgreSQL")
    library_sub = library.add_subparsers(dest="library_command", required=True)
    add = library_sub.add_parser("add", help="add a library served at the given host names")
    add.add_argument("code")
    add.add_argument("--name", required=True)
    add.add_argument("--host", action="append", required=True, dest="hosts")
    add.add_argument(
        "--branches",
        metavar="SPEC",
        help="the library's branches as SHIORI_BRANCHES gives them "
        "('code=日本語名=English name;…'); default: one branch 'main' named after the library",
    )

    def run_add(settings: Settings, args: argparse.Namespace) -> int:
        try:
            branches = parse_branches(args.branches) if args.branches else None
        except SettingsError as wrong:
            print(str(wrong), file=sys.stderr)
            return 2
        setup(settings)
        try:
            made = queries.add_library(args.code, args.name, tuple(args.hosts), branches)
        except queries.LibraryRefused as refused:
            print(str(refused), file=sys.stderr)
            return 2
        print(f"図書館を追加しました library added: {made.code} (id {made.id}) {made.name}")
        print(f"ホスト hosts: {', '.join(made.hosts)}")
        return 0

    def run_list(settings: Settings, _args: argparse.Namespace) -> int:
        setup(settings)
        for each in queries.list_libraries():
            hosts = ", ".join(each.hosts) or "(every host)"
            print(f"{each.id}\t{each.code}\t{each.name}\t{hosts}")
        return 0

    host = library_sub.add_parser("host", help="add or remove a host name of a library")
    host_sub = host.add_subparsers(dest="host_command", required=True)
    host_add = host_sub.add_parser("add", help="serve the library at this host name too")
    host_remove = host_sub.add_parser("remove", help="stop serving the library at this host")
    for each in (host_add, host_remove):
        each.add_argument("code")
        each.add_argument("host")

    def run_host(change: Callable[[str, str], str], done: str) -> Command:
        def run_change(settings: Settings, args: argparse.Namespace) -> int:
            setup(settings)
            try:
                changed = change(args.code, args.host)
            except queries.LibraryRefused as refused:
                print(str(refused), file=sys.stderr)
                return 2
            print(f"{done}: {args.code.strip()} {changed}")
            return 0

        return run_change

    host_add.set_defaults(
        fn=run_host(queries.add_host, "ホストを追加しました host added"), own_library=True
    )
    host_remove.set_defaults(
        fn=run_host(queries.remove_host, "ホストを外しました host removed"), own_library=True
    )
    add.set_defaults(fn=run_add, own_library=True)
    library_sub.add_parser("list", help="list the libraries and their hosts").set_defaults(
        fn=run_list, own_library=True
    )


def every_library(parser: argparse.ArgumentParser) -> None:
    """Marks a timer's command: without --library it runs once per library."""
    parser.set_defaults(every_library=True)


def run(settings: Settings, args: argparse.Namespace, code: str | None, setup: Setup) -> int:
    """Run the parsed command in the library `code` names, or (a timer without one) in
    every library; other commands without one run in the default library."""
    fn: Command = args.fn
    args.library = code  # the mail worker loops over the libraries itself without one
    if getattr(args, "own_library", False):
        return fn(settings, args)
    if code is None and not getattr(args, "every_library", False):
        return fn(settings, args)
    setup(settings)
    if code is not None:
        try:
            chosen = queries.get_library(code)
        except queries.LibraryRefused as refused:
            print(str(refused), file=sys.stderr)
            return 2
        with queries.use_library(chosen.id):
            return fn(settings, args)
    status = 0
    for library in queries.list_libraries():
        with queries.use_library(library.id):
            try:
                status = max(status, fn(settings, args))
            except Exception as exc:  # the class only: a message may quote personal values
                log.error("command failed in library %d: %s", library.id, type(exc).__name__)
                status = max(status, FAILED)
    return status
