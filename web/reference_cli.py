"""`shiori reference export-crd FILE`: the published reference cases as NDL Collaborative
Reference Database XML (db.crd), for the library to upload to CRD."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from db import queries
from web.settings import Settings

Setup = Callable[[Settings], None]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], setup: Setup) -> None:
    reference = sub.add_parser("reference", help="the public reference collection")
    reference_sub = reference.add_subparsers(dest="reference_command", required=True)
    export = reference_sub.add_parser(
        "export-crd",
        help="write the published cases as CRD (レファレンス協同データベース) XML",
    )
    export.add_argument("file", help="the XML file to write ('-' for standard output)")

    def run(settings: Settings, args: argparse.Namespace) -> int:
        setup(settings)
        if args.file == "-":
            count = queries.export_crd(sys.stdout.buffer)
            sys.stdout.flush()
        else:
            target = Path(args.file)
            partial = target.with_name(target.name + ".part")
            try:
                with partial.open("wb") as out:
                    count = queries.export_crd(out)
                os.replace(partial, target)
            except OSError as err:
                partial.unlink(missing_ok=True)
                print(f"書けません / cannot write {target}: {err.strerror}", file=sys.stderr)
                return 2
        print(f"{count} 件 / cases", file=sys.stderr)
        return 0

    export.set_defaults(fn=run)
