"""Every malformed manifest in tests/data/invalid fails with the issues its comments announce.

A line ending in ``# <- FRAGMENT`` must carry an issue whose text holds FRAGMENT; a header line
``# expect: LINE FRAGMENT`` does the same for a line that cannot hold a comment (0: no line).
No other issue may be reported, and no secret may show.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from provisioner.errors import ManifestError
from provisioner.manifest._load import describe_manifest, load_manifest

DATA = Path(__file__).parents[2] / "data"
CANARY = "canary-Pa55w0rd;'\"-must-never-show"
ENV = {
    "ORACLE_PASSWORD": CANARY,
    "EMPTY": "   ",
    "HR_PASSWORD_SET": CANARY,
    "DB3_NAME": "third",
    "DB3_PORT": "1530",
}
_MARKER = re.compile(r"# <- (.+)$")
_HEADER = re.compile(r"^# expect: (\d+) (.+)$")
INVALID = sorted((DATA / "invalid").glob("*.yaml"))
VALID = sorted((DATA / "valid").glob("*.yaml"))


def expected_issues(path: Path) -> Counter[tuple[int | None, str]]:
    expected: Counter[tuple[int | None, str]] = Counter()
    lines = path.read_bytes().decode("utf-8", errors="replace").split("\n")
    for number, line in enumerate(lines, start=1):
        header = _HEADER.match(line)
        if header:
            line_number = int(header.group(1))
            expected[(line_number or None, header.group(2).strip())] += 1
            continue
        marker = _MARKER.search(line)
        if marker:
            expected[(number, marker.group(1).strip())] += 1
    return expected


def test_corpus_is_large_enough():
    assert len(INVALID) >= 25
    assert all(expected_issues(path) for path in INVALID)


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_manifest_reports_each_announced_issue(path: Path):
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, env=ENV)
    issues = caught.value.issues
    expected = expected_issues(path)
    found = Counter[tuple[int | None, str]]()
    for (line, fragment), count in expected.items():
        matching = [i for i in issues if i.line == line and fragment in str(i)]
        assert len(matching) == count, f"{fragment!r} at line {line} not in:\n{caught.value}"
        found[(line, fragment)] = count
    assert len(issues) == sum(expected.values()), str(caught.value)
    for issue in issues:
        assert str(issue).startswith(f"{path}:")
    assert CANARY not in str(caught.value)
    assert CANARY not in repr(caught.value.issues)


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_manifest_loads(path: Path):
    manifest = load_manifest(path, env=ENV)
    assert manifest.databases
    assert CANARY not in repr(manifest)
    assert describe_manifest(manifest, default_sandbox="prod").startswith(f"{path}: ")
