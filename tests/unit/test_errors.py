"""The error hierarchy's names: EntryError, and ProvisionError kept as its deprecated alias."""

from __future__ import annotations

import provisioner
from provisioner import errors


def test_the_old_name_is_the_same_class_for_code_that_still_catches_it() -> None:
    assert provisioner.EntryError is provisioner.EntryError is errors.EntryError
    assert issubclass(errors.RetryableError, errors.EntryError)
    assert issubclass(errors.PermanentError, errors.EntryError)


def test_an_entry_error_is_a_provisioner_error_but_not_every_provisioner_error_is_one() -> None:
    assert issubclass(errors.EntryError, errors.ProvisionerError)
    assert not issubclass(errors.ConfigError, errors.EntryError)
