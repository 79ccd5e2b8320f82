"""An entry's fingerprint in the state: HMAC-SHA256, under a random key kept in the state, of
everything that goes into its connection. It shows that an entry changed without any row
holding a secret. (Like any verifier, whoever holds the state and its key can test a guessed
password against it.)"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Final

from provisioner.manifest import DatabaseSpec

__all__ = ["Fingerprinter"]

# the fingerprint's encoder, built once (json.dumps builds one per call)
_FIELDS: Final = json.JSONEncoder(ensure_ascii=False)
_CONNECTION_STRING_FORM: Final = "ConnectionString"  # its fingerprints keep the first format


class Fingerprinter:
    """Fingerprints under one key. The HMAC is keyed once and copied per entry: a one-shot
    call has OpenSSL look the digest up every time (4.5 us against 1.6)."""

    def __init__(self, key: bytes) -> None:
        self._mac = hmac.new(key, digestmod=hashlib.sha256)

    def of(self, spec: DatabaseSpec, form: str | None = None) -> str:
        """The fingerprint of ``spec`` sent in auth ``form`` (its specName). The
        connection-string form keeps the format of earlier versions; the Basic form adds
        itself, the schema and tls."""
        fields: list[object] = [
            spec.host,
            spec.port,
            spec.sid,
            spec.service_name,
            spec.user,
            spec.password.reveal(),
            spec.description,
        ]
        if form is not None and form != _CONNECTION_STRING_FORM:
            fields += [form, spec.schema, spec.tls]
        mac = self._mac.copy()
        mac.update(_FIELDS.encode(fields).encode())
        return mac.hexdigest()
