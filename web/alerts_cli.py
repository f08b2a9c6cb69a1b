"""`shiori alerts send`: queue today's new-arrival digests (run it daily, before `mail send`
or alongside the mail worker, which delivers them)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from web import alerts, library_cli
from web.settings import Settings

Setup = Callable[[Settings], None]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], setup: Setup) -> None:
    parser = sub.add_parser("alerts", help="new-arrival alert mail")
    alerts_sub = parser.add_subparsers(dest="alerts_command", required=True)
    send = alerts_sub.add_parser(
        "send",
        help="queue one digest per patron of the new arrivals matching their alerts (daily)",
    )

    def run(settings: Settings, _args: argparse.Namespace) -> int:
        if not os.environ.get("SHIORI_SECRET_KEY"):
            # Links signed with a key of this run alone would be refused by the server.
            print(
                "SHIORI_SECRET_KEY を設定してください（サーバーと同じ鍵）。"
                "配信停止リンクの署名に使います。 / "
                "Set SHIORI_SECRET_KEY (the server's): it signs the unsubscribe links.",
                file=sys.stderr,
            )
            return 2
        setup(settings)
        report = alerts.queue_digests(settings)
        print(
            f"新着お知らせ new-arrival digests queued: {report.mailed} "
            f"(condition-work pairs {report.works}, old records pruned {report.pruned})"
        )
        if report.failed:  # logged one by one; cron sees the run as failed
            print(f"失敗 failed: {report.failed}", file=sys.stderr)
            return 1
        return 0

    send.set_defaults(fn=run)
    library_cli.every_library(send)
