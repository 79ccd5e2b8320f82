"""The options of ``provisioner import`` (``--from``, ``--password-env-prefix``, ``--format``),
apart from the conversion, so that building the command line does not import it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final, Literal, get_args

__all__ = ["DEFAULT_PASSWORD_ENV_PREFIX", "ImportFormat", "add_import_arguments"]

ImportFormat = Literal["csv", "tnsnames"]
DEFAULT_PASSWORD_ENV_PREFIX: Final = "ORACLE_PASSWORD"


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    """``--from PATH``, ``--password-env-prefix P`` and ``--format csv|tnsnames``.

    The values land in ``args.source`` (a Path), ``args.password_env_prefix`` and ``args.format``.
    """
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        required=True,
        metavar="PATH",
        help="inventory CSV (name,host,port,sid|service_name,user[,description,sandbox]) "
        "or tnsnames.ora",
    )
    parser.add_argument(
        "--password-env-prefix",
        default=DEFAULT_PASSWORD_ENV_PREFIX,
        metavar="P",
        help="each password is read from ${P_<NAME>} [%(default)s]",
    )
    parser.add_argument(
        "--format",
        choices=get_args(ImportFormat),
        default=None,
        help="input format [guessed: .ora or (DESCRIPTION = ...) means tnsnames]",
    )
