"""`shiori staff create-manager …`: the only way to the first manager (no default accounts)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from db import queries
from web import library_host, refusals
from web.settings import Settings

Setup = Callable[[Settings], None]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], setup: Setup) -> None:
    staff = sub.add_parser("staff", help="staff console accounts")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    make = staff_sub.add_parser(
        "create-manager", help="create a manager and print a one-time enrolment link"
    )
    make.add_argument("--staff-id", required=True, help="the staff ID used to log in")
    make.add_argument("--name", required=True)
    make.add_argument("--affiliation", default="")
    make.add_argument("--branch", required=True, help="branch code, e.g. sogo")

    def run(settings: Settings, args: argparse.Namespace) -> int:
        setup(settings)
        try:
            token = queries.create_first_manager(
                queries.StaffInput(
                    staff_code=args.staff_id,
                    name=args.name,
                    affiliation=args.affiliation,
                    branch_code=args.branch,
                    role="manager",
                    duties=(),
                    ends_on=None,
                )
            )
        except queries.StaffFormRefused as refused:
            for field, why in refused.errors.items():
                print(f"{field}: {refusals.for_console(settings.locale_dir, why)}", file=sys.stderr)
            return 2
        hours = queries.staff_policy_data().settings["enrol_link_hours"]
        print(f"登録リンク enrolment link ({hours} 時間有効・1回限り / valid {hours} hours, once):")
        print(f"{library_host.public_base(settings)}/staff/enrol/{token}")
        if not settings.public_url_configured:
            print(
                f"SHIORI_PUBLIC_URL がないため、サーバーの待受アドレス {settings.public_url} "
                "（SHIORI_HOST・SHIORI_PORT）で作りました。 / SHIORI_PUBLIC_URL is not set: "
                f"the link uses the address the server listens on, {settings.public_url} "
                "(SHIORI_HOST, SHIORI_PORT).",
                file=sys.stderr,
            )
        return 0

    make.set_defaults(fn=run)
