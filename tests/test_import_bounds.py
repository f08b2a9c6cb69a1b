"""Import bounds (db.rules IMPORT_MAX_*) and `shiori import` exit codes, run for real.

Hostile files: a 50 MB MARCXML field, too many subfields, entity expansion, external
entities, over-long CSV values and lines, broken quoting, a file over the size bound.
Each over-bound record is refused with its position; the rest of the file loads.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pymarc
import pytest
from sqlalchemy import create_engine, text

from db import queries, rules
from db.queries import ImportProblem, Refusal
from tests.conftest import DATA, Database
from tests.test_queries_import import SMALL, write_works_csv
from web import cli

ROOT = Path(__file__).resolve().parents[1]
MARC = DATA / "marc"
LOC_XML = MARC / "loc_multiscript_30.marcxml.xml"


def _loc_xml_parts() -> tuple[str, str, str]:
    """The LoC MARCXML file as (head, first record, the rest)."""
    xml = LOC_XML.read_text("utf-8")
    start = xml.index("<record>")
    end = xml.index("</record>", start) + len("</record>")
    return xml[:start], xml[start:end], xml[end:]


def _title_record(source_id: str, title: str) -> str:
    return (
        f'<record><leader>00000cam a2200000 a 4500</leader><controlfield tag="001">{source_id}'
        '</controlfield><controlfield tag="003">DLC</controlfield><datafield tag="245" '
        f'ind1="0" ind2="0"><subfield code="a">{title}</subfield></datafield></record>\n'
    )


def _max_title_chars(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT max(length(title)) FROM work")).scalar_one())
    finally:
        engine.dispose()


def run_import(url: str, *args: str) -> tuple[int, str, int]:
    """`shiori import ARGS` in a new process: exit status, output, peak RSS in MB."""
    code = (
        "import resource, sys\n"
        "from web import cli\n"
        "status = cli.main(['import', *sys.argv[1:]])\n"
        "print('peak-rss-kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        "sys.exit(status)\n"
    )
    env = {**os.environ, "SHIORI_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = done.stdout + done.stderr
    rss = [line for line in done.stdout.splitlines() if line.startswith("peak-rss-kb ")]
    assert rss, out
    return done.returncode, out, int(rss[-1].split()[1]) // 1024


def test_a_50_mb_marcxml_field_is_refused_in_bounded_memory(
    fresh_db: Database, tmp_path: Path
) -> None:
    head, first, rest = _loc_xml_parts()
    path = tmp_path / "huge.xml"
    with path.open("w", encoding="utf-8") as fh:
        fh.write(head + first)
        offset = len((head + first).encode("utf-8"))
        fh.write('<record><leader>00000cam a2200000 a 4500</leader><controlfield tag="001">')
        fh.write('huge-1</controlfield><datafield tag="245" ind1="0" ind2="0"><subfield code="a">')
        for _ in range(50):  # 50 MB, 50 million characters
            fh.write("abcdefghi " * 100_000)
        fh.write("</subfield></datafield></record>\n")
        fh.write(rest)
    assert path.stat().st_size > 50_000_000

    status, out, peak_mb = run_import(fresh_db.url, str(path))

    assert status == cli.IMPORT_SOME_REFUSED, out
    assert "added 30, updated 0, unchanged 0, problems 1" in out
    assert (
        f"record 2: refused: field 245 is longer than {rules.IMPORT_MAX_FIELD_CHARS} characters"
        f" (record at byte {offset})"
    ) in out
    assert peak_mb < 300, f"peak RSS {peak_mb} MB"
    assert _max_title_chars(fresh_db.url) < 1000
    # The file's other 30 records are as the binary file gives them.
    before = queries.get_catalog_stats()
    again = queries.import_catalog_file(MARC / "loc_multiscript_30.mrc")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 30)
    assert queries.get_catalog_stats() == before


def test_records_over_the_bounds_are_refused_with_their_position(
    fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "IMPORT_MAX_RECORD_CHARS", 1_000)
    many = '<subfield code="x"/>' * 10_001
    fields = "".join(
        f'<datafield tag="500" ind1=" " ind2=" "><subfield code="a">{"n" * 400}</subfield>'
        "</datafield>"
        for _ in range(3)
    )
    records = [
        _title_record("ok-1", "一つ目"),
        _title_record("many", "多すぎる").replace("</datafield>", many + "</datafield>"),
        _title_record("long", "長すぎる").replace("</datafield>", "</datafield>" + fields),
        _title_record("ok-2", "二つ目"),
    ]
    head = '<?xml version="1.0"?>\n<collection xmlns="http://www.loc.gov/MARC21/slim">\n'
    path = tmp_path / "bounds.xml"
    path.write_text(head + "".join(records) + "</collection>\n", encoding="utf-8")
    offsets = [len((head + "".join(records[:n])).encode()) for n in range(4)]

    report = queries.import_catalog_file(path)

    assert report.added == 2
    limit = rules.IMPORT_MAX_RECORD_FIELDS
    assert report.problems == [
        ImportProblem(
            "record", 2, Refusal.of("import_too_many_fields", limit=limit, offset=offsets[1])
        ),
        ImportProblem(
            "record", 3, Refusal.of("import_record_too_long", limit=1_000, offset=offsets[2])
        ),
    ]


def test_a_marcxml_record_with_a_broken_leader_is_refused_and_the_rest_load(
    fresh_db: Database, tmp_path: Path
) -> None:
    head = '<collection xmlns="http://www.loc.gov/MARC21/slim">\n'
    broken = _title_record("broken", "壊れた").replace("00000cam a2200000 a 4500", "short")
    records = _title_record("ok-1", "一つ目") + broken + _title_record("ok-2", "二つ目")
    path = tmp_path / "leader.xml"
    path.write_text(head + records + "</collection>\n", encoding="utf-8")

    report = queries.import_catalog_file(path)

    assert report.added == 2
    [problem] = report.problems
    assert (problem.kind, problem.number) == ("record", 2)
    assert problem.reason.code == "import_unreadable_record"
    assert problem.reason.values["error"] == "RecordLeaderInvalid"


def test_binary_marc_records_are_held_to_the_same_bounds(
    fresh_db: Database, tmp_path: Path
) -> None:
    crowded = pymarc.Record()
    crowded.add_field(pymarc.Field(tag="001", data="crowded-1"))
    crowded.add_field(
        pymarc.Field(
            tag="245",
            indicators=pymarc.Indicators("0", "0"),
            subfields=[pymarc.Subfield("a", "Crowded")],
        )
    )
    for _ in range(4):  # 4 × 2,600 subfields: within ISO 2709's 9,999 bytes per field
        subfields = [pymarc.Subfield("x", "") for _ in range(2_600)]
        crowded.add_field(pymarc.Field(tag="500", subfields=subfields))
    good = (MARC / "pymarc_test_10.mrc").read_bytes()
    path = tmp_path / "crowded.mrc"
    path.write_bytes(good[: good.index(b"\x1d") + 1] + crowded.as_marc() + good)
    first_length = good.index(b"\x1d") + 1

    report = queries.import_catalog_file(path)

    assert report.added == 10 and report.unchanged == 1
    limit = rules.IMPORT_MAX_RECORD_FIELDS
    reason = Refusal.of("import_too_many_fields", limit=limit, offset=first_length)
    assert report.problems == [ImportProblem("record", 2, reason)]


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE collection [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<collection xmlns="http://www.loc.gov/MARC21/slim">
"""


@pytest.mark.parametrize(
    "dtd",
    [
        BILLION_LAUGHS,
        '<?xml version="1.0"?>\n<!DOCTYPE collection [\n <!ENTITY secret SYSTEM '
        '"file:///etc/passwd">\n]>\n<collection xmlns="http://www.loc.gov/MARC21/slim">\n',
        '<?xml version="1.0"?>\n<!DOCTYPE collection [\n <!ENTITY % remote SYSTEM '
        '"http://127.0.0.1:9/evil.dtd">\n %remote;\n]>\n'
        '<collection xmlns="http://www.loc.gov/MARC21/slim">\n',
    ],
    ids=["entity-expansion", "external-entity", "external-dtd"],
)
def test_xml_entities_are_refused(fresh_db: Database, tmp_path: Path, dtd: str) -> None:
    body = _title_record("lol-1", "&lol9;&secret;" if "lol9" in dtd else "&secret;")
    path = tmp_path / "entities.xml"
    path.write_text(dtd + body + "</collection>\n", encoding="utf-8")

    report = queries.import_catalog_file(path)

    assert report.loaded == 0
    assert report.problems == [ImportProblem("file", None, Refusal.of("import_xml_entities"))]
    assert report.stopped
    assert queries.get_catalog_stats().works == 0


def test_over_long_xml_markup_stops_the_file(
    fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "IMPORT_MAX_XML_MARKUP_BYTES", 100_000)
    head = '<collection xmlns="http://www.loc.gov/MARC21/slim">\n'
    huge_tag = '<record huge="' + "x" * 1_000_000 + '">'
    path = tmp_path / "markup.xml"
    path.write_text(head + _title_record("ok-1", "一つ目") + huge_tag, encoding="utf-8")

    report = queries.import_catalog_file(path)

    assert report.added == 1
    reason = Refusal.of("import_xml_markup_too_long", limit=100_000)
    assert report.problems == [ImportProblem("file", None, reason)]


def test_csv_values_lines_and_rows_are_bounded(fresh_db: Database, tmp_path: Path) -> None:
    rows = [
        SMALL[0],
        {"work_id": "900010", "title": "長" * (rules.IMPORT_MAX_FIELD_CHARS + 1)},
        SMALL[1],
    ]
    path = write_works_csv(tmp_path / "w.csv", rows)
    with path.open("a", encoding="utf-8") as fh:  # one line longer than a row may be
        fh.write("900011," + "x" * (rules.IMPORT_MAX_RECORD_CHARS + 10) + "\n")
        fh.write("900012,最後の行\n")

    report = queries.import_catalog_file(path)

    assert report.added == 3
    limit = rules.IMPORT_MAX_FIELD_CHARS
    assert report.problems == [
        ImportProblem("line", 3, Refusal.of("import_value_too_long", column="title", limit=limit)),
        ImportProblem(
            "line", 5, Refusal.of("import_row_too_long", limit=rules.IMPORT_MAX_RECORD_CHARS)
        ),
    ]
    assert _max_title_chars(fresh_db.url) < 100


def test_broken_csv_quoting_stops_the_file_instead_of_reading_it_whole(
    fresh_db: Database, tmp_path: Path
) -> None:
    path = write_works_csv(tmp_path / "w.csv", SMALL[:1])
    with path.open("a", encoding="utf-8") as fh:
        fh.write('900013,"an unclosed quote\n')
        for _ in range(20_000):  # 200,000 characters of one "row"
            fh.write("123456789\n")

    report = queries.import_catalog_file(path)

    assert report.added == 1
    [problem] = report.problems
    assert (problem.kind, problem.reason.code) == ("file", "import_stopped")
    assert report.stopped


def test_a_file_over_the_size_bound_stops_there(
    fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = [{"work_id": f"92{n:04}", "title": f"題 {n}"} for n in range(3000)]
    plain = write_works_csv(tmp_path / "many.csv", many).read_bytes()
    path = tmp_path / "many.csv.gz"
    path.write_bytes(gzip.compress(plain))
    monkeypatch.setattr(rules, "IMPORT_MAX_FILE_BYTES", len(plain) // 2)

    report = queries.import_catalog_file(path)

    assert 0 < report.added < 3000
    reason = Refusal.of("import_file_too_large", limit=len(plain) // 2)
    assert report.problems == [ImportProblem("file", None, reason)]


def test_the_grouped_aozora_catalogue_has_its_own_size_bound(
    fresh_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "IMPORT_MAX_GROUPED_FILE_BYTES", 1_000_000)

    report = queries.import_catalog_file(DATA / "aozora_catalog.csv.gz")

    assert report.loaded == 0  # nothing is loaded before the whole file is grouped
    reason = Refusal.of("import_file_too_large", limit=1_000_000)
    assert report.problems == [ImportProblem("file", None, reason)]


def test_a_report_keeps_a_bounded_list_of_problems(
    fresh_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(rules, "IMPORT_MAX_LISTED_PROBLEMS", 2)
    monkeypatch.setenv("SHIORI_DATABASE_URL", fresh_db.url)
    rows = [SMALL[0], *({"work_id": f"93{n:04}"} for n in range(5))]
    path = write_works_csv(tmp_path / "w.csv", rows)

    assert cli.main(["import", str(path)]) == cli.IMPORT_SOME_REFUSED

    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("added 1, updated 0, unchanged 0, problems 5")
    assert len(out) == 1 + 2 + 1  # two listed, then "… 3 more"
    assert out[3].endswith("… 3 more")


def test_exit_codes_tell_all_loaded_some_refused_and_file_refused(
    fresh_db: Database, tmp_path: Path
) -> None:
    ok, out, _ = run_import(fresh_db.url, str(MARC / "loc_multiscript_30.mrc"))
    assert ok == cli.IMPORT_ALL_LOADED == 0, out
    some, out, _ = run_import(fresh_db.url, str(MARC / "pymarc_bad_records.mrc"))
    assert some == cli.IMPORT_SOME_REFUSED == 3, out
    assert "problems 7" in out
    xml = LOC_XML.read_bytes()
    cut = tmp_path / "cut.xml"
    cut.write_bytes(xml[: len(xml) // 2])  # a truncated file
    truncated, out, _ = run_import(fresh_db.url, str(cut))
    assert truncated == cli.IMPORT_FILE_REFUSED == 2, out
    assert "malformed XML" in out
    png = tmp_path / "cover.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(256))
    refused, out, _ = run_import(fresh_db.url, str(png))
    assert refused == cli.IMPORT_FILE_REFUSED, out
    # Several files: the worst of them.
    mixed, out, _ = run_import(
        fresh_db.url,
        str(MARC / "pymarc_bad_records.mrc"),
        str(png),
        str(MARC / "pymarc_utf8_1.mrc"),
    )
    assert mixed == cli.IMPORT_FILE_REFUSED, out
    help_text = subprocess.run(
        [sys.executable, "-m", "web.cli", "import", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "3  some records were refused" in help_text
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "`shiori import` exit status" in readme
