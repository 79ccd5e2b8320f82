"""Secret masking and ``${VAR}`` / ``${file:PATH}`` resolution."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from provisioner.secrets import MASK, ReferenceResolver, Secret, UnresolvedReferenceError

CANARY = "canary-s3cret-value"


def resolver(tmp_path: Path, **env: str) -> ReferenceResolver:
    return ReferenceResolver(env=env, base_dir=tmp_path)


def test_secret_never_shows_itself():
    secret = Secret(CANARY)
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>30}"]
    shown.append("%s" % (secret,))  # noqa: UP031 - the old formatting path too
    assert all(CANARY not in text for text in shown)
    assert MASK in str(secret)
    assert CANARY not in repr([secret, {"password": secret}])
    assert secret.reveal() == CANARY


def test_secret_compares_by_value_and_refuses_pickling():
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a").__eq__("a") is NotImplemented
    assert hash(Secret("a")) == hash(Secret("a"))
    assert not Secret("")
    assert Secret("x")
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret(CANARY))


def test_text_without_references_is_returned_as_is(tmp_path: Path):
    assert resolver(tmp_path).resolve("plain $ text {x}") == "plain $ text {x}"


def test_variables_are_replaced_from_env(tmp_path: Path):
    resolved = resolver(tmp_path, USER="u", PW=CANARY).resolve("${USER}:${PW}@${ USER }")
    assert resolved == f"u:{CANARY}@u"


def test_an_empty_variable_is_set(tmp_path: Path):
    assert resolver(tmp_path, EMPTY="").resolve("[${EMPTY}]") == "[]"


def test_unset_variables_are_all_named_and_no_value_is_shown(tmp_path: Path):
    with pytest.raises(UnresolvedReferenceError) as caught:
        resolver(tmp_path, SET=CANARY).resolve("${SET}${MISSING_ONE}${SET}${MISSING_TWO}")
    assert caught.value.problems == (
        "environment variable MISSING_ONE is not set",
        "environment variable MISSING_TWO is not set",
    )
    assert CANARY not in str(caught.value)


def test_double_dollar_escapes_a_reference(tmp_path: Path):
    assert resolver(tmp_path).resolve("$${HOME} and $$ and $${") == "${HOME} and $$ and ${"


def test_escape_applies_to_replacements_only(tmp_path: Path):
    resolved = resolver(tmp_path, V="{x}").resolve("{a}${V}", escape=lambda s: s.upper())
    assert resolved == "{a}{X}"


@pytest.mark.parametrize("text", ["${", "abc${NAME", "${not a name}", "${1ABC}", "${}"])
def test_malformed_references_are_refused_without_echo(tmp_path: Path, text: str):
    with pytest.raises(UnresolvedReferenceError) as caught:
        resolver(tmp_path, NAME=CANARY).resolve(f"{CANARY}{text}")
    assert CANARY not in str(caught.value)
    assert "not a name" not in str(caught.value)


def test_file_reference_reads_relative_to_base_dir_and_strips_line_break(tmp_path: Path):
    (tmp_path / "pw.txt").write_text(f"{CANARY}\n")
    (tmp_path / "crlf.txt").write_bytes(b"two\r\n")
    (tmp_path / "inner.txt").write_text(" keep spaces \n\n")
    resolve = resolver(tmp_path).resolve
    assert resolve("${file:pw.txt}") == CANARY
    assert resolve("${file:crlf.txt}") == "two"
    assert resolve("${file:inner.txt}") == " keep spaces "
    assert resolve(f"${{file:{tmp_path / 'pw.txt'}}}") == CANARY


def test_file_is_read_once_per_resolver(tmp_path: Path):
    path = tmp_path / "pw.txt"
    path.write_text("first")
    resolve = resolver(tmp_path).resolve
    assert resolve("${file:pw.txt}") == "first"
    path.write_text("second")
    assert resolve("${file:pw.txt}") == "first"


def test_missing_and_undecodable_files_are_named(tmp_path: Path):
    (tmp_path / "binary.bin").write_bytes(b"\xff\xfe\x00")
    resolve = resolver(tmp_path).resolve
    with pytest.raises(UnresolvedReferenceError, match=r'cannot read file "nope\.txt"'):
        resolve("${file:nope.txt}")
    with pytest.raises(UnresolvedReferenceError, match=r'file "binary\.bin" is not UTF-8'):
        resolve("${file:binary.bin}")
    with pytest.raises(UnresolvedReferenceError, match="needs a path"):
        resolve("${file: }")
    # A failure is remembered too: the second look-up gives the same answer.
    with pytest.raises(UnresolvedReferenceError, match="cannot read"):
        resolve("${file:nope.txt}")
