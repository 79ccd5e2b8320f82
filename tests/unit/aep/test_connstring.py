"""Oracle connection strings: the exact Adobe layout, quoting, and round trips of any value."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from provisioner.aep._connstring import (
    oracle_connection_string,
    quote_value,
)
from provisioner.emulator._connstring import ConnectionStringError, parse_connection_string

# Any text: separators, quotes, spaces, control characters, non-ASCII, astral characters.
ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
NASTY = st.text(alphabet=";='\" \t\r\n\x00\x1f\x7f\x85\xa0\u2028\u3000é😀{}", max_size=12)
VALUES = st.one_of(ANY_TEXT, NASTY)


def test_adobe_layout_with_sid_is_exact():
    text = oracle_connection_string(host="h", port=1521, user="u", password="p", sid="S")
    assert text == "Host=h;Port=1521;Sid=S;User Id=u;Password=p"


def test_service_name_replaces_sid():
    text = oracle_connection_string(
        host="db.example.com", port=1522, user="u", password="p", service_name="svc.example.com"
    )
    assert text == "Host=db.example.com;Port=1522;ServiceName=svc.example.com;User Id=u;Password=p"


@pytest.mark.parametrize(("sid", "service_name"), [(None, None), ("S", "svc")])
def test_exactly_one_of_sid_and_service_name(sid: str | None, service_name: str | None):
    with pytest.raises(ValueError, match="exactly one"):
        oracle_connection_string(
            host="h", port=1, user="u", password="p", sid=sid, service_name=service_name
        )


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("plain", "plain"),
        ("p;w", '"p;w"'),
        ("a=b", '"a=b"'),
        ('say "hi"', "'say \"hi\"'"),
        ("it's", '"it\'s"'),
        ("a'b\"c", '"a\'b""c"'),
        (" lead", '" lead"'),
        ("trail\t", '"trail\t"'),
        ("trail ", '"trail "'),
        ("\u00a0lead", '"\u00a0lead"'),  # any white space Python knows, at either end
        ("trail\u2003", '"trail\u2003"'),
        ("in side", "in side"),
        ("", '""'),
        ("line\nbreak", '"line\nbreak"'),
        ("naïve", "naïve"),
    ],
)
def test_values_are_quoted_only_when_needed(value: str, quoted: str):
    assert quote_value(value) == quoted


@given(host=VALUES, port=st.integers(1, 65535), user=VALUES, password=VALUES, target=VALUES)
@example(host="h", port=1521, user="u", password="\";'=", target="S")
@example(host=" ", port=1, user="", password="''", target='""')
def test_any_values_round_trip(host: str, port: int, user: str, password: str, target: str):
    for key, kwargs in (("sid", {"sid": target}), ("servicename", {"service_name": target})):
        text = oracle_connection_string(
            host=host, port=port, user=user, password=password, **kwargs
        )
        assert parse_connection_string(text) == {
            "host": host,
            "port": str(port),
            key: target,
            "user id": user,
            "password": password,
        }


def test_parse_ignores_keyword_case_and_spaces_around_unquoted_values():
    parsed = parse_connection_string(" HOST = h ; port=1521;USER ID=u;password='a;b' ;")
    assert parsed == {"host": "h", "port": "1521", "user id": "u", "password": "a;b"}


@pytest.mark.parametrize(
    "text", ["Host=h;Password='open", "Host=h;justakeyword", "=v", 'Password="a"b']
)
def test_malformed_strings_are_rejected_without_echoing_them(text: str):
    with pytest.raises(ConnectionStringError) as caught:
        parse_connection_string(text)
    assert "open" not in str(caught.value)
    assert "justakeyword" not in str(caught.value)
