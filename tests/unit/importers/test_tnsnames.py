"""tnsnames.ora parsing: odd formatting, what is kept of each definition, located errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from provisioner.errors import ManifestError
from provisioner.importers._tnsnames import TnsEntry, TnsFile, read_tnsnames

DATA = Path(__file__).parents[2] / "data" / "import"

# alias -> (host, port, sid, service_name) as the realistic fixture should give them
EXPECTED = {
    "FINPROD": ("fin-db1.corp.example.com", 1521, None, "finprod.corp.example.com"),
    "fintest": ("fin-test.corp.example.com", 1522, "FINTST", None),
    "FinDev": ("10.20.30.40", 1523, "FINDEV", None),
    "HRPROD": ("hr-primary.corp.example.com", 1521, None, "hr.corp.example.com"),
    "HRTEST": ("hr-test", 1521, "HRTST", None),
    "BILLING": ("billing.corp.example.com", 1530, None, "billing"),
    "CRM": ("crm.corp.example.com", 2484, None, "crm.corp.example.com"),
    "ware_house": ("dwh1", 1521, None, "dwh"),
    "SALES.EU": ("sales-eu.corp.example.com", 1521, None, "sales_eu"),
    "SALES.US": ("sales-us.corp.example.com", 1521, None, "sales_us"),
    "INVENTORY": ("inv.corp.example.com", 1521, None, "inv"),
    "LOGISTICS": ("logistics.corp.example.com", 1521, "LOG", None),
    "IPV6DB": ("2001:db8::15", 1521, None, "v6"),
    "QUOTED": ("quoted.corp.example.com", 1521, None, "quoted.svc"),
    "REPORTING1": ("rep1", 1521, "REP1", None),
    "REPORTING2": ("rep2", 1521, "REP2", None),
    "MIXED_case_1": ("Mixed.Corp.Example.Com", 1521, None, "mixed"),
    "ORCL": ("192.168.1.10", 1521, None, "orcl"),
    "EZ-DB": ("ez.corp.example.com", 1525, None, "ez"),
    "LEGACY8I": ("legacy", 1521, "LEG8", None),
}


def _fixture() -> TnsFile:
    path = DATA / "tnsnames.ora"
    return read_tnsnames(path.read_text(encoding="utf-8"), file="tnsnames.ora")


def _by_alias(parsed: TnsFile) -> dict[str, TnsEntry]:
    return {entry.aliases[0]: entry for entry in parsed.entries}


def _one(text: str) -> TnsEntry:
    (entry,) = read_tnsnames(text, file="t.ora").entries
    return entry


def _issues(text: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        read_tnsnames(text, file="t.ora")
    return [str(issue) for issue in caught.value.issues]


def test_realistic_file_gives_each_definition_in_file_order() -> None:
    parsed = _fixture()
    assert [entry.aliases[0] for entry in parsed.entries] == list(EXPECTED)
    got = {
        alias: (entry.host, entry.port, entry.sid, entry.service_name)
        for alias, entry in _by_alias(parsed).items()
    }
    assert got == EXPECTED


def test_definition_lines_are_where_the_alias_stands() -> None:
    entries = _by_alias(_fixture())
    assert (entries["FINPROD"].line, entries["FINPROD"].column) == (7, 1)
    assert entries["REPORTING1"].line == entries["REPORTING2"].line == 105
    assert entries["REPORTING2"].column > 1


def test_multiple_aliases_make_one_entry_that_keeps_them_all() -> None:
    entries = _by_alias(_fixture())
    assert entries["FINPROD"].aliases == ("FINPROD", "FINPROD.WORLD")
    assert entries["CRM"].aliases == ("CRM", "CRM.WORLD", "crm_alias")


def test_ifile_is_a_warning_with_its_line() -> None:
    assert _fixture().warnings == (
        "tnsnames.ora:4: IFILE=/u01/app/oracle/network/admin/tnsnames_legacy.ora"
        " is not followed; import that file separately",
    )


def test_notes_say_what_was_left_out() -> None:
    entries = _by_alias(_fixture())
    assert entries["FINPROD"].notes == (
        "other addresses not imported: fin-db2.corp.example.com:1521",
    )
    assert entries["HRPROD"].notes == ("1 more DESCRIPTION not imported (first one only)",)
    assert entries["BILLING"].notes == ("address at line 48 skipped (protocol IPC)",)
    assert entries["CRM"].notes == (
        "protocol TCPS: imported as tls: true (sent as sslMode in the Basic Authentication "
        "form; the connection-string form has no TLS keyword)",
    )
    assert entries["SALES.EU"].notes == ("SID SALESEU ignored: SERVICE_NAME is used",)
    assert entries["LOGISTICS"].notes == ("no PORT: Oracle's default 1521 is used",)
    assert entries["ORCL"].notes == ()


def test_a_tcps_address_is_imported_with_tls() -> None:
    entries = _by_alias(_fixture())
    assert entries["CRM"].tls is True
    assert not any(entry.tls for alias, entry in entries.items() if alias != "CRM")


def test_crlf_and_tabs_parse_like_unix_text() -> None:
    text = (DATA / "tnsnames.ora").read_text(encoding="utf-8")
    tabbed = re.sub(r"^ +", lambda indent: "\t" * len(indent[0]), text, flags=re.MULTILINE)
    crlf = read_tnsnames(tabbed.replace("\n", "\r\n"), file="tnsnames.ora")
    assert crlf.entries == _fixture().entries


def test_keywords_match_in_any_case_and_values_keep_theirs() -> None:
    entry = _one(
        "Db = (dEsCrIpTiOn = (aDdReSs = (HoSt = Host.A)(pOrT = 1600))(Connect_Data=(Sid=aB)))"
    )
    assert (entry.host, entry.port, entry.sid) == ("Host.A", 1600, "aB")


def test_address_without_protocol_counts_as_tcp_and_bare_address_lists_are_accepted() -> None:
    entry = _one("OLD = (ADDRESS = (HOST = h)(PORT = 1))(CONNECT_DATA = (SID = S))")
    assert (entry.host, entry.port, entry.sid) == ("h", 1, "S")


def test_empty_service_name_falls_back_to_sid() -> None:
    entry = _one(
        "A = (DESCRIPTION = (ADDRESS = (HOST = h))(CONNECT_DATA = (SERVICE_NAME = )(SID = S)))"
    )
    assert (entry.sid, entry.service_name) == ("S", None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "A = (DESCRIPTION = (ADDRESS = (HOST = h)",
            "t.ora:1:20: (ADDRESS = ...) is not closed by )",
        ),
        ("A (DESCRIPTION = x)", 't.ora:1:3: expected "=" after the alias A, got "("'),
        ("A, = (x = y)", 't.ora:1:4: expected an alias after the comma, got "="'),
        (
            'A = (DESCRIPTION = (HOST = "h',
            't.ora:1:28: a quoted value is not closed by " on the same line',
        ),
        ("A =", "t.ora:1:4: expected (DESCRIPTION = ...), got the end of the file"),
        ("A = (B = (C = x y))", 't.ora:1:17: expected ")" to close (C = ...), got "y"'),
        ("A = (= x)", 't.ora:1:6: expected a keyword after (, got "="'),
        ("A = (B x)", 't.ora:1:8: expected "=" after B, got "x"'),
        (") A = (B = c)", 't.ora:1:1: expected an alias (NAME = (DESCRIPTION = ...)), got ")"'),
        ("A = (B = c)\x01", "t.ora:1:12: control characters are not allowed here"),
        (
            "# first line\n\nA =\n  (DESCRIPTION =\n    (ADDRESS = (HOST = h)(PORT = 1)\n"
            "B = (DESCRIPTION = (ADDRESS = (HOST = h)))",
            't.ora:6:1: expected ")" to close (ADDRESS = ...), got "B"',
        ),
    ],
)
def test_syntax_errors_name_line_and_column(text: str, expected: str) -> None:
    assert _issues(text) == [expected]


def test_nesting_depth_is_bounded() -> None:
    text = "A = " + "(K = " * 100 + "v" + ")" * 100
    assert _issues(text) == ["t.ora:1:325: parentheses nested too deeply"]  # the 65th


def test_every_definition_problem_is_reported_at_once() -> None:
    text = "\n".join(
        [
            "NOCD = (DESCRIPTION = (ADDRESS = (HOST = h)(PORT = 1)))",
            "IPC = (DESCRIPTION = (ADDRESS = (PROTOCOL = IPC)(KEY = k))(CONNECT_DATA = (SID = S)))",
            "BADPORT = (DESCRIPTION = (ADDRESS = (HOST = h)(PORT = 99999))"
            "(CONNECT_DATA = (SID = S)))",
            "BADHOST = (DESCRIPTION = (ADDRESS = (HOST = h:1521))(CONNECT_DATA = (SID = S)))",
            "EMPTYHOST = (DESCRIPTION = (ADDRESS = (HOST = ))(CONNECT_DATA = (SID = S)))",
            "WORD = somewhere",
            "nocd = (DESCRIPTION = (ADDRESS = (HOST = h))(CONNECT_DATA = (SID = S)))",
        ]
    )
    assert _issues(text) == [
        "t.ora:1:1: NOCD: no SERVICE_NAME or SID in CONNECT_DATA",
        "t.ora:2:1: IPC: no TCP ADDRESS with a HOST",
        't.ora:3:48: BADPORT: PORT: expected an integer 1-65535, got "99999"',
        "t.ora:4:38: BADHOST: HOST: expected a hostname (RFC 1123), an IPv4 or an IPv6 address,"
        ' got "h:1521" (put the port under port:, not in host)',
        "t.ora:5:40: EMPTYHOST: HOST: expected a value",
        "t.ora:6:1: WORD: expected (DESCRIPTION = ...)",
        "t.ora:7:1: nocd: alias nocd is already defined at line 1",
    ]


def test_an_alias_repeated_on_one_line_is_a_duplicate() -> None:
    text = "A = (ADDRESS = (HOST = h))(CONNECT_DATA = (SID = S)) B, a = (ADDRESS = (HOST = h))"
    assert "t.ora:1:54: B: alias a is already defined at line 1" in _issues(text)


@pytest.mark.parametrize(
    "text",
    ["", "# only comments\n\n   \n", "IFILE = /etc/other.ora\n"],
)
def test_a_file_without_aliases_is_an_error(text: str) -> None:
    (issue,) = _issues(text)
    assert issue.startswith("t.ora: no alias defined: nothing to import")
    assert ("IFILE" in issue) == ("IFILE" in text)


def test_connect_data_without_service_name_or_sid_is_an_error() -> None:
    text = "A = (DESCRIPTION = (ADDRESS = (HOST = h))(CONNECT_DATA = (SERVER = DEDICATED)))"
    assert _issues(text) == ["t.ora:1:1: A: no SERVICE_NAME or SID in CONNECT_DATA"]
