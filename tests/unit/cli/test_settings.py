"""settings.py: credentials from the environment, URL checks and the value objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.errors import ConfigError
from provisioner.secrets import Secret
from provisioner.settings import (
    DEFAULT_SCOPES,
    Backoff,
    Credentials,
    Limits,
    Settings,
    Timeouts,
    check_url,
    credentials_from_env,
)

FULL_ENV = {
    "AEP_CLIENT_ID": "client-1",
    "AEP_CLIENT_SECRET": "secret-canary-33",
    "AEP_ORG_ID": "ORG@AdobeOrg",
}


# --- credentials_from_env --------------------------------------------------------------------


def test_credentials_from_a_complete_environment() -> None:
    creds = credentials_from_env(FULL_ENV)
    assert creds.client_id == "client-1"
    assert creds.org_id == "ORG@AdobeOrg"
    assert creds.client_secret == Secret("secret-canary-33")
    assert creds.access_token is None
    assert creds.scopes == tuple(DEFAULT_SCOPES.split(","))


def test_every_missing_variable_is_listed_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        credentials_from_env({})
    message = str(info.value)
    assert "AEP_CLIENT_ID" in message
    assert "AEP_ORG_ID" in message
    assert "AEP_CLIENT_SECRET (or AEP_ACCESS_TOKEN)" in message


def test_only_the_missing_variables_are_listed() -> None:
    with pytest.raises(ConfigError) as info:
        credentials_from_env({"AEP_CLIENT_ID": "client-1", "AEP_CLIENT_SECRET": "s"})
    assert str(info.value) == "missing environment variables: AEP_ORG_ID"


def test_blank_variables_count_as_missing() -> None:
    env = {**FULL_ENV, "AEP_CLIENT_ID": "   ", "AEP_CLIENT_SECRET": ""}
    with pytest.raises(ConfigError) as info:
        credentials_from_env(env)
    assert "AEP_CLIENT_ID" in str(info.value)
    assert "AEP_CLIENT_SECRET" in str(info.value)


def test_ready_access_token_replaces_the_client_secret() -> None:
    env = {"AEP_CLIENT_ID": "c", "AEP_ORG_ID": "o", "AEP_ACCESS_TOKEN": "tok-1"}
    creds = credentials_from_env(env)
    assert creds.access_token == Secret("tok-1")
    assert creds.client_secret is None


def test_values_are_trimmed() -> None:
    env = {"AEP_CLIENT_ID": " c ", "AEP_ORG_ID": " o\n", "AEP_CLIENT_SECRET": " s "}
    creds = credentials_from_env(env)
    assert (creds.client_id, creds.org_id) == ("c", "o")
    assert creds.client_secret == Secret("s")


def test_scopes_are_split_on_commas_and_trimmed() -> None:
    creds = credentials_from_env({**FULL_ENV, "AEP_SCOPES": " openid, AdobeID ,,session "})
    assert creds.scopes == ("openid", "AdobeID", "session")


def test_missing_variable_error_never_shows_a_secret() -> None:
    with pytest.raises(ConfigError) as info:
        credentials_from_env({"AEP_CLIENT_SECRET": "secret-canary-33"})
    assert "secret-canary-33" not in str(info.value)


def test_credentials_repr_hides_secret_and_token() -> None:
    creds = credentials_from_env({**FULL_ENV, "AEP_ACCESS_TOKEN": "token-canary-44"})
    text = repr(creds) + str(creds)
    assert "secret-canary-33" not in text
    assert "token-canary-44" not in text


# --- check_url -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://platform.adobe.io",
        "https://ims-na1.adobelogin.com/",
        "HTTPS://platform.adobe.io",
        "http://127.0.0.1",
        "http://127.0.0.1:8080",
        "http://127.10.0.3:1234",
        "http://localhost:8080",
        "http://[::1]:8080",
    ],
)
def test_check_url_accepts_https_and_loopback_http(url: str) -> None:
    assert check_url("AEP_PLATFORM_URL", url) == url.rstrip("/")


def test_check_url_drops_trailing_slashes() -> None:
    assert check_url("AEP_IMS_URL", "https://ims.example/") == "https://ims.example"


@pytest.mark.parametrize(
    "url",
    [
        "http://platform.adobe.io",
        "http://10.0.0.5:8080",
        "http://0.0.0.0:8080",
        "http://localhost.evil.example",
        "http://127.0.0.1.nip.io",
    ],
)
def test_check_url_refuses_http_to_other_hosts(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_url("AEP_PLATFORM_URL", url)
    assert "AEP_PLATFORM_URL" in str(info.value)
    assert "loopback" in str(info.value)


@pytest.mark.parametrize(
    "url", ["ftp://platform.adobe.io", "platform.adobe.io", "https://", "", "file:///etc/x"]
)
def test_check_url_refuses_non_http_urls(url: str) -> None:
    with pytest.raises(ConfigError, match="expected an http"):
        check_url("AEP_IMS_URL", url)


# --- value objects ---------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [0, -1, 1025])
def test_limits_refuse_concurrency_out_of_range(concurrency: int) -> None:
    with pytest.raises(ConfigError, match="--concurrency"):
        Limits(concurrency=concurrency)


@pytest.mark.parametrize("rate", [0.0, -1.0, 100_001.0])
def test_limits_refuse_rate_out_of_range(rate: float) -> None:
    with pytest.raises(ConfigError, match="--rate"):
        Limits(rate=rate)


@pytest.mark.parametrize("attempts", [0, 101])
def test_backoff_refuses_max_attempts_out_of_range(attempts: int) -> None:
    with pytest.raises(ConfigError, match="--max-attempts"):
        Backoff(max_attempts=attempts)


@pytest.mark.parametrize(("base", "cap"), [(-1.0, 5.0), (10.0, 5.0)])
def test_backoff_needs_base_within_cap(base: float, cap: float) -> None:
    with pytest.raises(ConfigError):
        Backoff(base=base, cap=cap)


@pytest.mark.parametrize("name", ["request", "connect", "entry", "grace"])
def test_timeouts_must_be_positive(name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Timeouts(**{name: 0.0})


def settings(**fields: object) -> Settings:
    creds = Credentials(client_id="c", client_secret=Secret("s"), org_id="ORG@AdobeOrg")
    return Settings(credentials=creds, state_path=Path("s.db"), **fields)  # type: ignore[arg-type]


def test_settings_derive_the_service_and_token_urls() -> None:
    s = settings(platform_url="https://platform.adobe.io/", ims_url="https://ims.example/")
    assert s.flow_url == "https://platform.adobe.io/data/foundation/flowservice"
    assert s.token_url == "https://ims.example/ims/token/v3"


def test_state_target_is_url_org_and_sandbox() -> None:
    s = settings(platform_url="https://platform.adobe.io/")
    assert s.target("hr-dev") == "https://platform.adobe.io|ORG@AdobeOrg|hr-dev"
    assert s.target("prod") != s.target("hr-dev")


def test_target_key_overrides_url_and_org() -> None:
    s = settings(target_key="emulator:/data/emulator.db")
    assert s.target("prod") == "emulator:/data/emulator.db|prod"


def test_blank_scopes_mean_the_default_scopes() -> None:
    creds = credentials_from_env({**FULL_ENV, "AEP_SCOPES": "  "})
    assert creds.scopes == tuple(DEFAULT_SCOPES.split(","))
