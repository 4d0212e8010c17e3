"""The settings-driven client factory: one client per process, rebuilt when the settings change."""

from parsec.conf import get_client, reset_client


def test_get_client_shares_one_client_until_the_settings_change(settings):
    settings.PARSEC_BASE_URL = "http://127.0.0.1:9/api/v1"
    reset_client()
    first = get_client()

    assert get_client() is first

    settings.PARSEC_READ_TIMEOUT = 2.5
    rebuilt = get_client()
    assert rebuilt is not first
    assert rebuilt._http.timeout.read == 2.5

    settings.PARSEC_API_KEY = "pk_other_builder_key_000000"
    assert get_client() is not rebuilt
    assert get_client().base_url == "http://127.0.0.1:9/api/v1"
    reset_client()


def test_reset_client_builds_a_fresh_one(settings):
    settings.PARSEC_BASE_URL = "http://127.0.0.1:9/api/v1"
    reset_client()
    first = get_client()

    reset_client()

    assert get_client() is not first
    reset_client()
