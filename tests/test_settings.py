"""Configuration: safe demo defaults, clear refusals (Japanese, then English) for bad values."""

from __future__ import annotations

import pytest

from db.passwords import HASHING_PROFILES
from web import cli
from web.settings import PASSWORD_HASHING, SettingsError, load, smtp_settings

GOOD_PRODUCTION = {
    "SHIORI_ENV": "production",
    "SHIORI_SECRET_KEY": "k" * 40,
    "SHIORI_PUBLIC_URL": "https://opac.example.jp",
    "SHIORI_DATABASE_URL": "postgresql+psycopg://shiori@db/shiori",
}


def test_demo_defaults_are_safe() -> None:
    settings = load({})
    assert settings.host == "127.0.0.1" and settings.port == 8000
    assert settings.database_url.startswith("sqlite:///") and not settings.production
    assert len(settings.branches) == 4 and settings.branches[0].names.get("ja") == "総合市民図書館"
    assert load({}).secret_key != settings.secret_key  # a fresh random key per start


def test_a_good_production_configuration_loads() -> None:
    settings = load(GOOD_PRODUCTION)
    assert settings.production and settings.https


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"SHIORI_SECRET_KEY": ""}, "SHIORI_SECRET_KEY"),
        ({"SHIORI_SECRET_KEY": "short"}, "SHIORI_SECRET_KEY"),
        ({"SHIORI_DEBUG": "true"}, "SHIORI_DEBUG"),
        ({"SHIORI_PUBLIC_URL": "http://opac.example.jp"}, "https://"),
    ],
)
def test_unsafe_production_settings_refuse_to_start(change: dict[str, str], words: str) -> None:
    with pytest.raises(SettingsError, match=words) as refused:
        load({**GOOD_PRODUCTION, **change})
    assert " / " in str(refused.value)  # Japanese, then English


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"SHIORI_PORT": "eighty"}, "SHIORI_PORT"),
        ({"SHIORI_PORT": "70000"}, "SHIORI_PORT"),
        ({"SHIORI_DEBUG": "maybe"}, "SHIORI_DEBUG"),
        ({"SHIORI_DATABASE_URL": "mysql://x"}, "SHIORI_DATABASE_URL"),
        ({"SHIORI_PUBLIC_URL": "opac.example.jp"}, "SHIORI_PUBLIC_URL"),
        ({"SHIORI_BRANCHES": "sogo=総合"}, "SHIORI_BRANCHES"),
        ({"SHIORI_BRANCHES": "a=あ=A;a=い=B"}, "code"),
        ({"SHIORI_HOLD_LIMIT": "0"}, "SHIORI_HOLD_LIMIT"),
        ({"SHIORI_SEARCH_CACHE_SECONDS": "-1"}, "SHIORI_SEARCH_CACHE_SECONDS"),
        ({"SHIORI_MAIL_RETRY_DAYS": "0"}, "SHIORI_MAIL_RETRY_DAYS"),
        ({"SHIORI_MAIL_RETRY_DAYS": "three"}, "SHIORI_MAIL_RETRY_DAYS"),
        ({"SHIORI_SMTP_FROM_DOMAINS": "lib-b.example.jp, opac@lib-c.example.jp"}, "DOMAINS"),
        ({"SHIORI_SMTP_FROM_DOMAINS": "lib b.example.jp"}, "SHIORI_SMTP_FROM_DOMAINS"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        load(env)


def test_mail_domains_a_library_may_send_from_are_the_operators_list() -> None:
    assert load({}).smtp_from_domains == frozenset()
    typed = {"SHIORI_SMTP_FROM_DOMAINS": " Lib-B.Example.jp., lib-c.example.jp;;"}
    settings = load(typed)
    assert settings.smtp_from_domains == {"lib-b.example.jp", "lib-c.example.jp"}
    smtp = smtp_settings(settings)
    assert smtp.may_send_as("info@LIB-B.example.jp") and smtp.may_send_as("x@example.jp")
    assert not smtp.may_send_as("info@lib-d.example.jp")
    assert not smtp.may_send_as("info@sub.lib-b.example.jp")  # a domain, not its subdomains


def test_configurable_branches() -> None:
    settings = load({"SHIORI_BRANCHES": "honkan=本館=Main Library;kita=北分館=North Branch"})
    assert [b.code for b in settings.branches] == ["honkan", "kita"]
    assert settings.branches[1].names.get("en") == "North Branch"


def test_the_cli_prints_the_refusal_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIORI_PORT", "eighty")
    assert cli.main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "設定エラー / Configuration error" in err and "SHIORI_PORT" in err


def test_cheap_password_hashing_is_for_tests_only() -> None:
    assert load({}).password_hashing == "standard"
    assert load({"SHIORI_PASSWORD_HASHING": "test"}).password_hashing == "test"
    assert load(GOOD_PRODUCTION).password_hashing == "standard"
    with pytest.raises(SettingsError, match="SHIORI_PASSWORD_HASHING") as refused:
        load({**GOOD_PRODUCTION, "SHIORI_PASSWORD_HASHING": "test"})
    assert " / " in str(refused.value)
    with pytest.raises(SettingsError, match="SHIORI_PASSWORD_HASHING"):
        load({"SHIORI_PASSWORD_HASHING": "cheap"})
    assert set(PASSWORD_HASHING) == set(HASHING_PROFILES)


def test_the_cli_refuses_test_hashing_in_production(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {**GOOD_PRODUCTION, "SHIORI_PASSWORD_HASHING": "test"}.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["migrate"]) == 2
    assert "SHIORI_PASSWORD_HASHING" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["prod", "Production", "staging", "production "])
def test_an_unknown_shiori_env_refuses_to_start(name: str) -> None:
    """A typo must not quietly start the demo profile (random key, no https checks)."""
    with pytest.raises(SettingsError, match="SHIORI_ENV") as refused:
        load({**GOOD_PRODUCTION, "SHIORI_ENV": name})
    assert " / " in str(refused.value)


def test_known_shiori_env_values_load() -> None:
    assert not load({}).production
    assert not load({"SHIORI_ENV": "development"}).production
    assert load(GOOD_PRODUCTION).production


def test_mail_retry_days_defaults_to_a_few_days_and_is_configurable() -> None:
    assert load({}).mail_retry_days == 3
    assert load({"SHIORI_MAIL_RETRY_DAYS": "７"}).mail_retry_days == 7
