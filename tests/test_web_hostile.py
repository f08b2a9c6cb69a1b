"""Hostile input in every field of every form: refused or ignored, never a server error.

The forms are found, not listed: every GET route of the app (the /staff mount included) is
rendered as an anonymous visitor, a logged-in demo patron and a logged-in manager, and every
`<form>` on those pages is parsed. Each field then receives, one at a time, values from other
scripts, control characters, bytes that are not UTF-8 and very long text, with a valid CSRF
token in the header (or, for the token field itself, the hostile value)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote_plus, urlencode

from httpx import Response
from sqlalchemy import text
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from db import engine
from tests import test_web_staff
from tests.test_web_account import HANAKO, log_in
from tests.test_web_staff import Clock, Console

# The staff console's fixtures: the enrolled team on a copy of the library.
_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team

# Raw (already percent-encoded) values: the client sends these bytes as they are.
HOSTILE: dict[str, str] = {
    "arabic-indic digits": quote_plus("٠١٢٣٤٥"),
    "devanagari digits": quote_plus("१२३४५६"),
    "superscript": quote_plus("¹²³⁴"),
    "mathematical digits": quote_plus("𝟙𝟚𝟛"),
    "nul": "%00",
    "controls": quote_plus("\x01\x1b[0m\r\n\t"),
    "unpaired surrogate": "%ED%A0%80",
    "invalid utf-8": "%FF%FE%C3",
    "accent": quote_plus("é"),
    "long": "x" * 100_000,
}


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._open: Form | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._open = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._open)
        elif self._open is None or "name" not in a:
            if tag == "option" and self._open is not None and self._select:
                self._open.fields.setdefault(self._select, a.get("value", ""))
            return
        elif tag == "select":
            self._select = a["name"]
        elif tag in ("input", "textarea", "button"):
            if a.get("type") in ("checkbox", "radio") and a["name"] in self._open.fields:
                return
            self._open.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None
        elif tag == "select":
            self._select = None


def forms_of(page: str) -> list[Form]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


def get_paths(routes: list[BaseRoute], params: dict[str, str], prefix: str = "") -> Iterator[str]:
    """Every GET path of the app, path parameters filled from `params` (others skipped)."""
    for route in routes:
        if isinstance(route, Mount):
            if route.name != "static":
                yield from get_paths(route.routes, params, prefix + route.path)
        elif isinstance(route, Route) and "GET" in (route.methods or ()):
            path = prefix + route.path
            names = re.findall(r"{(\w+)(?::\w+)?}", path)
            if all(n in params for n in names):
                yield re.sub(r"{(\w+)(?::\w+)?}", lambda m: params[m.group(1)], path)


# Ending a session or an account would stop the walk; what they take is tested like the rest.
SKIP_ACTIONS = re.compile(r"/logout$|/end$|/end-others$")


TOKEN_PAGE = {
    "anonymous": "/login",
    "patron": "/my",
    "manager": "/staff/",
    "second factor": "/staff/mfa",
}


def _one(sql: str, **params: object) -> str:
    with engine.read() as conn:
        return str(conn.execute(text(sql), params).scalar_one())


def _csrf(page: str) -> str | None:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    return found.group(1) if found else None


def test_hostile_values_in_every_form_field_give_no_server_error(
    team: dict[str, Console], app: object, clock: Clock
) -> None:
    patron = TestClient(app)  # type: ignore[arg-type]
    assert log_in(patron, *HANAKO).status_code == 303  # type: ignore[attr-defined]
    halfway = Console(app, clock)  # password given, second factor not yet
    halfway.secret = team["staff"].secret
    assert halfway.log_in("STA01", second=False).status_code == 303  # type: ignore[attr-defined]
    users = {
        "anonymous": TestClient(app),  # type: ignore[arg-type]
        "patron": patron,
        "manager": team["manager"].client,
        "second factor": halfway.client,
    }
    params = {
        "lang": "en",
        "work_id": _one("SELECT MIN(work_id) FROM item"),
        "patron_id": _one("SELECT id FROM patron WHERE card_number = :c", c=HANAKO[0]),
        "staff_id": _one("SELECT id FROM staff_account WHERE staff_code = 'STA01'"),
        "loan_id": _one(
            "SELECT MIN(l.id) FROM loan l JOIN patron p ON p.id = l.patron_id "
            "WHERE p.card_number = :c",
            c=HANAKO[0],
        ),
    }
    routes: list[BaseRoute] = app.routes  # type: ignore[attr-defined]
    paths = sorted(set(get_paths(routes, params)))
    assert "/staff/accounts/new" in paths and "/my/password" in paths
    found: dict[tuple[str, str, str, tuple[str, ...]], Form] = {}
    for who, client in users.items():
        for path in paths:
            page = client.get(path, follow_redirects=False)
            assert page.status_code < 500, (who, path)
            if "text/html" not in page.headers.get("content-type", ""):
                continue
            for form in forms_of(page.text):
                if not form.action or SKIP_ACTIONS.search(form.action):
                    continue
                key = (who, form.action, form.method, tuple(sorted(form.fields)))
                found.setdefault(key, form)
    actions = {(who, f.action) for (who, *_), f in found.items()}
    for expected in [
        ("anonymous", "/login"),
        ("anonymous", "/staff/login"),
        ("anonymous", "/password/first"),
        ("patron", "/my/password"),
        ("second factor", "/staff/mfa"),
        ("manager", "/staff/accounts/new"),
        ("manager", f"/staff/patrons/{params['patron_id']}/edit"),
    ]:
        assert expected in actions, expected

    failures: list[str] = []
    for (who, *_), form in found.items():
        client = users[who]
        for name in form.fields:
            for label, raw in HOSTILE.items():
                others = {k: v for k, v in form.fields.items() if k != name}
                body = urlencode(others) + ("&" if others else "") + f"{quote_plus(name)}={raw}"
                try:
                    if form.method == "post":
                        token = _csrf(client.get(TOKEN_PAGE[who]).text)
                        response = client.post(
                            form.action,
                            content=body.encode("latin-1"),
                            headers={
                                "content-type": "application/x-www-form-urlencoded",
                                **(
                                    {"X-CSRF-Token": token}
                                    if token and name != "csrf_token"
                                    else {}
                                ),
                            },
                            follow_redirects=False,
                        )
                    else:  # a URL is limited (64 KiB in the client): long as it can be
                        response = client.get(
                            f"{form.action}?{body[:60_000]}", follow_redirects=False
                        )
                except Exception as crash:  # the test client re-raises the server's error
                    failures.append(f"{who} {form.method} {form.action} {name}={label}: {crash!r}")
                    continue
                if response.status_code >= 500:
                    failures.append(f"{who} {form.method} {form.action} {name}={label}")
            if form.method == "post":
                # The same bytes that are not UTF-8, in a multipart body.
                token = _csrf(client.get(TOKEN_PAGE[who]).text) or ""
                for raw in (b"\xed\xa0\x80", b"\xff\xfe\xc3", b"\x00"):
                    try:
                        response = _multipart(client, form, name, raw, token)
                    except Exception as crash:
                        failures.append(f"{who} multipart {form.action} {name}={raw!r}: {crash!r}")
                        continue
                    if response.status_code >= 500:
                        failures.append(f"{who} multipart {form.action} {name}={raw!r}")
    assert not failures, "\n".join(failures)


def _multipart(client: TestClient, form: Form, name: str, raw: bytes, token: str) -> Response:
    boundary = "hostile-boundary-0123"
    parts = [(k, v.encode()) for k, v in form.fields.items() if k != name] + [(name, raw)]
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'.encode() + v + b"\r\n"
        for k, v in parts
    )
    return client.post(
        form.action,
        content=body + f"--{boundary}--\r\n".encode(),
        headers={
            "content-type": f"multipart/form-data; boundary={boundary}",
            **({"X-CSRF-Token": token} if name != "csrf_token" else {}),
        },
        follow_redirects=False,
    )


def test_mfa_code_takes_full_width_digits_and_refuses_other_scripts(
    team: dict[str, Console], app: object, clock: Clock
) -> None:
    member = Console(app, clock)
    member.secret = team["staff"].secret
    assert member.log_in("STA01", second=False).status_code == 303  # type: ignore[attr-defined]
    code = member.code()
    arabic = code.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    full_width = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    for wrong in (arabic, "¹²³⁴⁵⁶", code + "٠"):
        refused = member.post("/staff/mfa", "/staff/mfa", code=wrong)
        assert refused.status_code == 422, wrong  # type: ignore[attr-defined]
        assert 'role="alert"' in refused.text  # type: ignore[attr-defined]
    done = member.post("/staff/mfa", "/staff/mfa", code=full_width)
    assert done.status_code == 303  # type: ignore[attr-defined]


def test_digits_fields_read_full_width_and_refuse_other_scripts(web: TestClient) -> None:
    token = _csrf(web.get("/password/first").text)
    answer = web.post(
        "/password/first",
        data={
            "csrf_token": token or "",
            "card": "2100000003",
            "birth_year": "١٩٨٠",
            "birth_month": "²",
            "birth_day": "１",
            "phone": "0466-33-3333",
            "new_password": "a-long-enough-password-1",
            "new_password_again": "a-long-enough-password-1",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 422
    assert "birth date is not valid" in answer.text or "生年月日" in answer.text
    search = web.get("/search", params={"q": "猫", "year_from": "１９００", "year_to": "١٩٩٩"})
    assert search.status_code == 422
    assert 'value="１９００"' in search.text or "1900" in search.text
    assert "4 digits" in search.text or "4桁" in search.text
