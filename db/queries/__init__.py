"""The narrow query layer: the only door from `web` (and the CLI) to the database.

One module per feature, each with an explicit `__all__`; this package re-exports their
union, so `queries.place_hold(...)` and `from db.queries import holds` both work. Every
query function is one transaction (db.engine's `reads` / `writes`) and returns plain
frozen dataclasses. Expected refusals raise `QueryError` subclasses; nothing here knows
about HTTP. Feature modules never import each other: what several share is a plain `db`
module (db.circulation, db.routing, db.staff …).
"""

from __future__ import annotations

from db import japanese_input
from db.clock import LIBRARY_TZ, to_library_time
from db.clock import now as current_time
from db.errors import NotFound, QueryError, Refusal
from db.localized import Localized
from db.queries import (
    accounts,
    alerts,
    audit,
    backups,
    booklist,
    calendar,
    catalog,
    catalog_import,
    code_tables,
    counter,
    facets,
    holds,
    home,
    imports,
    libraries,
    loan_rules,
    loans,
    mail,
    my_data,
    my_summary,
    new_arrivals,
    opendata,
    pull_list,
    reference,
    reference_cases,
    registration,
    retention,
    second_factor,
    series_holds,
    sessions,
    setup,
    staff_accounts,
    staff_address_changes,
    staff_holds,
    staff_mail,
    staff_patrons,
    staff_reference,
    staff_registrations,
    staff_sessions,
    stats,
    suggest,
    terminals,
    title_status,
)
from db.queries.accounts import *  # noqa: F403
from db.queries.alerts import *  # noqa: F403
from db.queries.audit import *  # noqa: F403
from db.queries.backups import *  # noqa: F403
from db.queries.booklist import *  # noqa: F403
from db.queries.calendar import *  # noqa: F403
from db.queries.catalog import *  # noqa: F403
from db.queries.catalog_import import *  # noqa: F403
from db.queries.code_tables import *  # noqa: F403
from db.queries.counter import *  # noqa: F403
from db.queries.facets import *  # noqa: F403
from db.queries.holds import *  # noqa: F403
from db.queries.home import *  # noqa: F403
from db.queries.imports import *  # noqa: F403
from db.queries.libraries import *  # noqa: F403
from db.queries.loan_rules import *  # noqa: F403
from db.queries.loans import *  # noqa: F403
from db.queries.mail import *  # noqa: F403
from db.queries.my_data import *  # noqa: F403
from db.queries.my_summary import *  # noqa: F403
from db.queries.new_arrivals import *  # noqa: F403
from db.queries.opendata import *  # noqa: F403
from db.queries.pull_list import *  # noqa: F403
from db.queries.reference import *  # noqa: F403
from db.queries.reference_cases import *  # noqa: F403
from db.queries.registration import *  # noqa: F403
from db.queries.retention import *  # noqa: F403
from db.queries.second_factor import *  # noqa: F403
from db.queries.series_holds import *  # noqa: F403
from db.queries.sessions import *  # noqa: F403
from db.queries.setup import *  # noqa: F403
from db.queries.staff_accounts import *  # noqa: F403
from db.queries.staff_address_changes import *  # noqa: F403
from db.queries.staff_holds import *  # noqa: F403
from db.queries.staff_mail import *  # noqa: F403
from db.queries.staff_patrons import *  # noqa: F403
from db.queries.staff_reference import *  # noqa: F403
from db.queries.staff_registrations import *  # noqa: F403
from db.queries.staff_sessions import *  # noqa: F403
from db.queries.stats import *  # noqa: F403
from db.queries.suggest import *  # noqa: F403
from db.queries.terminals import *  # noqa: F403
from db.queries.title_status import *  # noqa: F403

__all__ = [
    "LIBRARY_TZ",
    "Localized",
    "NotFound",
    "QueryError",
    "Refusal",
    "current_time",
    "japanese_input",
    "to_library_time",
]
__all__ += accounts.__all__
__all__ += alerts.__all__
__all__ += audit.__all__
__all__ += backups.__all__
__all__ += booklist.__all__
__all__ += calendar.__all__
__all__ += catalog.__all__
__all__ += catalog_import.__all__
__all__ += imports.__all__
__all__ += libraries.__all__
__all__ += counter.__all__
__all__ += facets.__all__
__all__ += holds.__all__
__all__ += loan_rules.__all__
__all__ += loans.__all__
__all__ += mail.__all__
__all__ += my_data.__all__
__all__ += my_summary.__all__
__all__ += new_arrivals.__all__
__all__ += opendata.__all__
__all__ += pull_list.__all__
__all__ += reference.__all__
__all__ += reference_cases.__all__
__all__ += registration.__all__
__all__ += retention.__all__
__all__ += second_factor.__all__
__all__ += series_holds.__all__
__all__ += sessions.__all__
__all__ += setup.__all__
__all__ += staff_accounts.__all__
__all__ += staff_address_changes.__all__
__all__ += staff_holds.__all__
__all__ += staff_mail.__all__
__all__ += staff_patrons.__all__
__all__ += staff_reference.__all__
__all__ += staff_registrations.__all__
__all__ += staff_sessions.__all__
__all__ += terminals.__all__
__all__ += stats.__all__
__all__ += suggest.__all__
__all__ += title_status.__all__
__all__ += code_tables.__all__
__all__ += home.__all__
