"""The command line's state options: ``--state``/``PROVISIONER_STATE`` (path or URL),
``--wait-lock``, ``state copy``; a state that cannot be reached exits 2 without its password."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.cli._main import main
from provisioner.emulator._server import running_emulator
from provisioner.engine._state import RunLock, StateStore
from provisioner.reports._io import load_report
from tests.cliproc import cli_env, run_cli
from tests.helpers import write_manifest
from tests.services.postgres import PASSWORD, PgServer

CANARY = "CANARY-url-pw-0b7d4e"


@pytest.fixture
def small_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DB_PASSWORD", "pw-for-tests")
    return write_manifest(tmp_path / "dbs.yaml", ["alpha", "beta", "gamma"])


def _apply(manifest: Path, *extra: str) -> int:
    report = manifest.parent / "r.json"
    return main(["apply", str(manifest), "--emulator", "--report", str(report), *extra])


def test_a_url_in_the_environment_keeps_the_state_in_postgresql(
    small_manifest: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVISIONER_STATE", pg_url)
    assert _apply(small_manifest) == 0
    assert not (small_manifest.parent / ".provisioner" / "state.db").exists()
    assert _apply(small_manifest) == 0
    assert load_report(small_manifest.parent / "r.json").summary.existing == 3


def test_state_on_the_command_line_wins_over_the_environment(
    small_manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVISIONER_STATE", "postgresql://u:p@127.0.0.1:1/nothing")
    chosen = small_manifest.parent / "elsewhere.db"
    assert _apply(small_manifest, "--state", str(chosen)) == 0
    assert chosen.exists()


def test_a_path_in_the_environment_is_a_sqlite_state(
    small_manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = small_manifest.parent / "from-env.db"
    monkeypatch.setenv("PROVISIONER_STATE", str(chosen))
    assert _apply(small_manifest) == 0
    assert chosen.exists()


def test_an_unreachable_state_exits_2_naming_the_host_not_the_password(
    small_manifest: Path, pg_server: PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql://provisioner:{CANARY}@127.0.0.1:{pg_server.port}/provisioner"
    assert _apply(small_manifest, "--state", url) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{pg_server.port}/provisioner" in err
    assert CANARY not in err
    assert "Traceback" not in err
    assert not (small_manifest.parent / "r.json").exists(), "nothing was run"


def test_a_negative_wait_is_refused(
    small_manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _apply(small_manifest, "--wait-lock", "-1") == 2
    assert "--wait-lock" in capsys.readouterr().err


def test_wait_lock_gives_up_with_exit_2(
    small_manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with RunLock(small_manifest.parent / ".provisioner" / "state.db"):
        assert _apply(small_manifest, "--wait-lock", "0.2") == 2
    assert "waited 0.2 s" in capsys.readouterr().err


def test_state_copy_both_ways(
    small_manifest: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _apply(small_manifest) == 0
    sqlite = small_manifest.parent / ".provisioner" / "state.db"
    assert main(["state", "copy", str(sqlite), pg_url]) == 0
    out = capsys.readouterr().out
    assert "copied 3 entries and 0 intents" in out
    assert PASSWORD not in out
    back = small_manifest.parent / "back.db"
    assert main(["state", "copy", pg_url, str(back)]) == 0
    with StateStore.open(sqlite) as before, StateStore.open(back) as after:
        assert before.dump() == after.dump()


def test_state_copy_to_a_bad_url_exits_2(
    small_manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _apply(small_manifest) == 0
    sqlite = small_manifest.parent / ".provisioner" / "state.db"
    bad = f"postgresql://u:{CANARY}@127.0.0.1:1/db"
    assert main(["state", "copy", str(sqlite), bad]) == 2
    err = capsys.readouterr().err
    assert "127.0.0.1:1/db" in err
    assert CANARY not in err


async def test_no_log_line_holds_the_state_password(tmp_path: Path, pg_url: str) -> None:
    manifest = write_manifest(tmp_path / "m.yaml", ["one", "two"])
    async with running_emulator() as emu:
        done = await run_cli(
            "apply", str(manifest), "--log-format", "json", "--log-level", "debug",
            "--no-progress", "--report", str(tmp_path / "r.json"),
            env=cli_env(emu, PROVISIONER_STATE=pg_url),
        )  # fmt: skip
    assert done.code == 0, done.stderr
    assert "entry_finished" in done.stderr
    assert PASSWORD not in done.stderr
    assert PASSWORD not in done.stdout
    assert PASSWORD not in (tmp_path / "r.json").read_text()


def test_a_url_of_another_kind_is_refused_showing_only_its_scheme(
    small_manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _apply(small_manifest, "--state", f"mysql://u:{CANARY}@h/db") == 2
    err = capsys.readouterr().err
    assert "mysql:// is not a state backend" in err
    assert CANARY not in err


def test_the_url_scheme_is_read_in_any_case(
    small_manifest: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVISIONER_STATE", "POSTGRESQL" + pg_url[len("postgresql") :])
    assert _apply(small_manifest) == 0
    assert not (small_manifest.parent / ".provisioner" / "state.db").exists()


def test_state_copy_goes_to_the_environments_state_by_default(
    small_manifest: Path,
    pg_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _apply(small_manifest) == 0
    sqlite = small_manifest.parent / ".provisioner" / "state.db"
    assert main(["state", "copy", str(sqlite)]) == 2
    assert "set PROVISIONER_STATE" in capsys.readouterr().err
    monkeypatch.setenv("PROVISIONER_STATE", pg_url)
    assert main(["state", "copy", str(sqlite)]) == 0
    assert "copied 3 entries" in capsys.readouterr().out


@pytest.mark.parametrize(
    "url",
    [f"postgressql://u:{CANARY}@h/db", f"postgresql+psycopg://u:{CANARY}@h/db"],
)
def test_state_copy_refuses_a_url_it_cannot_use_showing_only_its_scheme(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped scheme is neither taken for a file path (folders named after the URL) nor
    shown whole: as source and as destination."""
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "state.db"
    with StateStore.open(source):
        pass
    assert main(["state", "copy", str(source), url]) == 2
    assert main(["state", "copy", url, str(source)]) == 2
    out, err = capsys.readouterr()
    assert CANARY not in out + err
    assert "://" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.db"]
