"""Explore's CSV and JSON forms: quoting, formula guard, BOM, atomic files, the same facts."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from provisioner.errors import ConfigError
from provisioner.reports import (
    EXPLORE_CSV_HEADER,
    ColumnInfo,
    Exploration,
    ExploreStatus,
    TableInfo,
    write_exploration,
    write_exploration_file,
)

ODD_PATHS = (
    "APP.Sales, EU_3",
    'HR.Say "Hi"_7',
    "ÉTÉ.顧客_1",
    "Ops Data.v1.2 archive_2",
    "A.tab\tx",
)
EXPLORED = Exploration(
    name="finance, eu",
    sandbox="prod",
    status=ExploreStatus.EXPLORED,
    connection_id="c-1",
    tables=tuple(TableInfo(name=p, path=p) for p in ODD_PATHS),
)
UNREACHABLE = Exploration(
    name='hr "main"',
    sandbox="dev",
    status=ExploreStatus.UNREACHABLE,
    connection_id="c-2",
    error="database unreachable: FLOW-1420-400: Unable to connect",
    error_code="FLOW-1420-400",
)
MISSING = Exploration(
    name="zürich", sandbox="prod", status=ExploreStatus.NO_CONNECTION, error="no connection"
)
EMPTY = Exploration(name="empty", sandbox="prod", status=ExploreStatus.EXPLORED, connection_id="c")


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def csv_text(*entries: Exploration) -> str:
    out = io.StringIO(newline="")
    write_exploration(entries, out, "csv")
    return out.getvalue()


def test_csv_has_one_row_per_table_and_one_per_entry_without_tables() -> None:
    rows = read_csv(csv_text(EXPLORED, UNREACHABLE, MISSING, EMPTY))
    assert tuple(rows[0]) == EXPLORE_CSV_HEADER
    assert rows[1:] == [
        *(["finance, eu", "prod", "c-1", p, ""] for p in ODD_PATHS),
        ['hr "main"', "dev", "c-2", "", "database unreachable: FLOW-1420-400: Unable to connect"],
        ["zürich", "prod", "", "", "no connection"],
        ["empty", "prod", "c", "", ""],
    ]


def test_csv_follows_rfc_4180_quoting_and_line_ends() -> None:
    text = csv_text(EXPLORED)
    assert text.startswith("name,sandbox,connection_id,table,error\r\n")
    assert '"finance, eu",prod,c-1,"HR.Say ""Hi""_7",\r\n' in text
    assert text.count("\r\n") == 1 + len(ODD_PATHS)


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_cells_a_spreadsheet_would_run_as_formulas_are_defused(start: str) -> None:
    value = f'{start}HYPERLINK("http://evil")'
    entry = Exploration(
        name=value,
        sandbox="prod",
        status=ExploreStatus.EXPLORED,
        connection_id="c",
        tables=(TableInfo(name=value, path=value),),
    )
    (row,) = read_csv(csv_text(entry))[1:]
    assert row[0] == row[3] == "'" + value
    assert read_csv(csv_text(EXPLORED))[1][3] == ODD_PATHS[0]  # others are left exact


def test_json_carries_the_same_facts_by_entry_with_columns_when_fetched() -> None:
    with_columns = Exploration(
        name="hr",
        sandbox="prod",
        status=ExploreStatus.FAILED,
        connection_id="c-3",
        tables=(
            TableInfo(
                name="HR.T",
                path="HR.T",
                columns=(ColumnInfo(name="ID", type="long", xdm_type="integer"),),
            ),
            TableInfo(name="HR.U", path="HR.U", error="columns: FLOW-1102-500"),
        ),
        error="columns of 1 table could not be read",
    )
    out = io.StringIO()
    write_exploration([EXPLORED, UNREACHABLE, MISSING, with_columns], out, "json")
    data = json.loads(out.getvalue())
    assert data["summary"] == {"entries": 4, "explored": 1, "not_explored": 3, "tables": 7}
    first, second, third, fourth = data["entries"]
    assert [t["path"] for t in first["tables"]] == list(ODD_PATHS)
    assert "columns" not in first["tables"][0]
    assert second == {
        "name": 'hr "main"',
        "sandbox": "dev",
        "connection_id": "c-2",
        "status": "unreachable",
        "error": UNREACHABLE.error,
        "error_code": "FLOW-1420-400",
        "tables": [],
    }
    assert (third["status"], third["connection_id"]) == ("no_connection", None)
    assert fourth["tables"] == [
        {
            "name": "HR.T",
            "path": "HR.T",
            "columns": [{"name": "ID", "type": "long", "xdm_type": "integer"}],
        },
        {"name": "HR.U", "path": "HR.U", "error": "columns: FLOW-1102-500"},
    ]
    assert "顧客" in out.getvalue()  # UTF-8 as is, not \\u escapes


def test_csv_file_has_a_bom_and_round_trips_odd_names(tmp_path: Path) -> None:
    path = tmp_path / "out" / "tables.csv"
    write_exploration_file([EXPLORED, MISSING], path, "csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfname,")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [r[3] for r in rows[1:]] == [*ODD_PATHS, ""]
    assert rows[1][0] == "finance, eu"
    assert [p.name for p in path.parent.iterdir()] == ["tables.csv"]  # no temporary left


def test_json_file_has_no_bom(tmp_path: Path) -> None:
    path = tmp_path / "tables.json"
    write_exploration_file([EXPLORED], path, "json")
    assert json.loads(path.read_bytes())["summary"]["tables"] == len(ODD_PATHS)


def test_unknown_format_is_a_usage_error_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="csv, json"):
        write_exploration_file([EXPLORED], tmp_path / "x.xml", "xml")
    with pytest.raises(ConfigError):
        write_exploration([EXPLORED], io.StringIO(), "md")
    assert list(tmp_path.iterdir()) == []
