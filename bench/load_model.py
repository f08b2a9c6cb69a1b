"""The rate model of bench/library_load.py: one library shaped like Fujisawa FY2017.

The only measured figures are seed 003's (藤沢市図書館 4 館, 平成 29 年度): 117,795
registered patrons, 1,137,348 borrowers (visits that borrowed), 2,875,266 loans and 615,471
reservations a year. The seeds give no web figures (no OPAC access counts, no share of
reservations made on the web, no opening hours), so everything else below is an assumption,
named once here with its reason and printed with every run (bench/README.md has the table).
"""

from __future__ import annotations

from dataclasses import dataclass

# Seed 003: 藤沢市図書館 4 館, 平成 29 年度 (FY2017).
PATRONS = 117_795
BORROWERS = 1_137_348  # 貸出者数: borrowing visits (2.53 items a visit)
LOANS_PER_YEAR = 2_875_266
RESERVATIONS_PER_YEAR = 615_471

# Assumptions (no seed figure; see ASSUMPTIONS for why).
LOAN_DAYS = 14  # Shiori's default loan period (material_type.loan_days) and Fujisawa's
HOLD_DAYS = 21  # a reservation's mean life: queue wait plus up to 7 days on the hold shelf
TURNOVER = 2.5  # loans per copy per year
BRANCHES = ("sogo", "minami", "tsujido", "shonan-oba")  # seed 003: four civic libraries
WEB_RESERVATION_SHARE = 0.70
WEB_RENEWAL_SHARE = 0.15  # of all loans, renewed once from My Library
SEARCHES_PER_WEB_RESERVATION = 15
RECORDS_PER_WEB_RESERVATION = 8
LOGINS_PER_WEB_RESERVATION = 1.5
MY_PAGES_PER_LOGIN = 3
WEB_DAYS = 365  # the website is open every day, also when the buildings are closed
PEAK_HOUR_SHARE = 0.10  # of a day's requests in its busiest hour (2.4 x the hourly mean)
ACTIVE_BORROWER_SHARE = 0.35  # patrons with at least one loan out at a time

ASSUMPTIONS = (
    (
        "open loans",
        f"Little's law: loans a year x {LOAN_DAYS} days / 365. A loan stays out the loan "
        "period on average (early returns balance renewals and overdue days); 14 days is "
        "Shiori's default loan period. No seed figure.",
    ),
    (
        "active holds",
        f"Little's law: reservations a year x {HOLD_DAYS} days / 365: about two weeks in the "
        "queue plus up to 7 days on the hold shelf (SHIORI_HOLD_SHELF_DAYS). No seed figure.",
    ),
    (
        "copies",
        f"loans a year / {TURNOVER} (loans per copy per year, a busy Japanese city library; "
        "the seeds give no collection size), spread over the 4 civic libraries of seed 003.",
    ),
    (
        "web share of reservations",
        f"{WEB_RESERVATION_SHARE:.0%}: seed 003 says web reservations exist since 2005 but "
        "gives no share; most Japanese city libraries now take most reservations on the web.",
    ),
    (
        "web renewals",
        f"{WEB_RENEWAL_SHARE:.0%} of loans are renewed once from My Library. No seed figure.",
    ),
    (
        "searches, record pages",
        f"{SEARCHES_PER_WEB_RESERVATION} searches and {RECORDS_PER_WEB_RESERVATION} record "
        "pages per web reservation (browsing that ends in no reservation, and visitors who "
        "never log in, included). No seed figure for OPAC use.",
    ),
    (
        "logins, My Library",
        f"{LOGINS_PER_WEB_RESERVATION} logins per web reservation (renewals and look-ups log "
        f"in too), {MY_PAGES_PER_LOGIN} My Library pages per login (the landing page /my "
        "after the login is one of them). No seed figure.",
    ),
    (
        "peak hour",
        f"the site serves {WEB_DAYS} days a year; the busiest hour carries "
        f"{PEAK_HOUR_SHARE:.0%} of a day's requests (evening peak, 2.4 x the hourly mean). "
        "The seeds give no opening hours or access counts.",
    ),
    (
        "borrowers",
        f"{ACTIVE_BORROWER_SHARE:.0%} of registered patrons have loans out at a time "
        f"(seed 003: {BORROWERS:,} borrowing visits a year by {PATRONS:,} patrons).",
    ),
)

# The request types of the mixed load, in report order.
TYPES = ("search", "record", "login", "my", "reserve", "renew")


@dataclass(frozen=True)
class LibraryShape:
    """What one library holds at one time (rows), at `scale` of Fujisawa's size."""

    patrons: int
    copies: int
    open_loans: int
    active_holds: int
    borrowers: int
    staff: int


def shape(scale: float = 1.0) -> LibraryShape:
    def part(n: float) -> int:
        return max(1, round(n * scale))

    return LibraryShape(
        patrons=part(PATRONS),
        copies=part(LOANS_PER_YEAR / TURNOVER),
        open_loans=part(LOANS_PER_YEAR * LOAN_DAYS / 365),
        active_holds=part(RESERVATIONS_PER_YEAR * HOLD_DAYS / 365),
        borrowers=part(PATRONS * ACTIVE_BORROWER_SHARE),
        staff=part(60),  # counter and back-office accounts of 4 libraries
    )


def yearly_web_requests() -> dict[str, float]:
    """Requests a year of each type for one library."""
    web_reservations = RESERVATIONS_PER_YEAR * WEB_RESERVATION_SHARE
    logins = web_reservations * LOGINS_PER_WEB_RESERVATION
    return {
        "search": web_reservations * SEARCHES_PER_WEB_RESERVATION,
        "record": web_reservations * RECORDS_PER_WEB_RESERVATION,
        "login": logins,
        "my": logins * MY_PAGES_PER_LOGIN,
        "reserve": web_reservations,
        "renew": LOANS_PER_YEAR * WEB_RENEWAL_SHARE,
    }


def peak_rates() -> dict[str, float]:
    """Requests per second of each type in one library's peak hour."""
    per_year_to_peak = PEAK_HOUR_SHARE / WEB_DAYS / 3600
    return {kind: n * per_year_to_peak for kind, n in yearly_web_requests().items()}


def table(libraries: int) -> str:
    """The rate model as a text table (per library and for all of them)."""
    rates = peak_rates()
    yearly = yearly_web_requests()
    lines = [
        f"{'type':<8} {'per year':>12} {'peak /s, 1 lib':>15} {f'peak /s, {libraries} libs':>16}"
    ]
    for kind in TYPES:
        lines.append(
            f"{kind:<8} {yearly[kind]:>12,.0f} {rates[kind]:>15.4f} "
            f"{rates[kind] * libraries:>16.3f}"
        )
    total = sum(rates.values())
    lines.append(
        f"{'all':<8} {sum(yearly.values()):>12,.0f} {total:>15.4f} {total * libraries:>16.3f}"
    )
    s = shape()
    lines.append(
        f"held at one time, per library: {s.patrons:,} patrons, {s.copies:,} copies, "
        f"{s.open_loans:,} open loans, {s.active_holds:,} active holds, {s.staff} staff"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(10))
    for name, why in ASSUMPTIONS:
        print(f"- {name}: {why}")
