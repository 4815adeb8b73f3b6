"""Secrets never reach error text, URLs shown to people, or log lines."""

from __future__ import annotations

import io
import logging
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.redact import (
    RedactingFilter,
    install_log_redaction,
    register_secret,
    registered_secrets,
    scrub,
    scrub_url,
)


def unique_secret() -> str:
    # The registry is process-wide: every test uses its own value so tests stay independent.
    return f"sk-{uuid.uuid4().hex}"


# --------------------------------------------------------------------------- scrub


def test_scrub_replaces_every_occurrence_of_each_secret():
    text = "token abcd1234 then abcd1234 and pw hunter22"
    assert scrub(text, ["abcd1234", "hunter22"]) == "token *** then *** and pw ***"


def test_scrub_ignores_empty_and_very_short_secrets():
    assert scrub("id abc is fine", ["", "abc", "id"]) == "id abc is fine"


def test_scrub_masks_a_secret_containing_another_as_a_whole():
    assert scrub("key=abcdefgh", ["abcd", "abcdefgh"]) == "key=***"


def test_scrub_masks_the_url_encoded_form_of_a_secret():
    secret = "a+b/c=d=="
    assert scrub("?token=a%2Bb%2Fc%3Dd%3D%3D", [secret]) == "?token=***"


def test_scrub_leaves_text_without_secrets_unchanged():
    assert scrub("nothing to hide", ["zzzzzz"]) == "nothing to hide"


@given(
    prefix=st.text(max_size=20),
    suffix=st.text(max_size=20),
    secret=st.text(min_size=4, max_size=12),
)
def test_scrubbed_text_never_contains_the_secret(prefix, suffix, secret):
    text = prefix + secret + suffix + secret
    assert secret not in scrub(text, [secret])


# --------------------------------------------------------------------------- scrub_url


def test_scrub_url_removes_userinfo():
    assert scrub_url("https://user:pa55word@api.example.com/x?a=1") == (
        "https://api.example.com/x?a=1"
    )


@pytest.mark.parametrize(
    "name",
    [
        "token",
        "access_token",
        "Refresh_Token",
        "API_KEY",
        "apikey",
        "key",
        "password",
        "secret",
        "client_secret",
        "signature",
        "sig",
        "auth",
        "api-key",
    ],
)
def test_scrub_url_masks_sensitive_query_parameters_case_insensitively(name):
    assert scrub_url(f"http://h/x?page=2&{name}=s3cr3tvalue") == f"http://h/x?page=2&{name}=***"


def test_scrub_url_masks_every_repeat_and_keeps_order_and_other_params_verbatim():
    url = "http://h/api/v4/leads?filter[id][]=1&token=aaaa1&filter[id][]=2&TOKEN=bbbb2&q=a%20b"
    assert scrub_url(url) == (
        "http://h/api/v4/leads?filter[id][]=1&token=***&filter[id][]=2&TOKEN=***&q=a%20b"
    )


def test_scrub_url_masks_bracketed_sensitive_names_and_fragment_tokens():
    url = "http://h/cb?auth[token]=abcdef#access_token=qwerty123&state=1"
    assert scrub_url(url) == "http://h/cb?auth[token]=***#access_token=***&state=1"


def test_scrub_url_also_scrubs_known_secrets_anywhere_in_the_url():
    assert (
        scrub_url("http://h/orgs/org-SECRET-42/runs", ["org-SECRET-42"]) == "http://h/orgs/***/runs"
    )


def test_scrub_url_handles_relative_and_unparseable_urls():
    assert scrub_url("/runs?api_key=xyz123") == "/runs?api_key=***"
    assert "pw123456" not in scrub_url("http://u:pw123456@[::1/x", ["pw123456"])


# --------------------------------------------------------------------------- registry


def test_registry_remembers_secrets_and_ignores_short_ones():
    secret = unique_secret()
    register_secret(secret)
    register_secret("abc")
    assert secret in registered_secrets()
    assert "abc" not in registered_secrets()


# --------------------------------------------------------------------------- logging


@pytest.fixture
def captured():
    """A logger whose handler (with redaction installed) writes into a string buffer."""
    logger = logging.getLogger(f"test_redact.{uuid.uuid4().hex}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    install_log_redaction(handler)
    yield logger, stream
    logger.removeHandler(handler)


def test_redacting_filter_scrubs_a_secret_passed_as_a_log_argument(captured):
    logger, stream = captured
    secret = unique_secret()
    register_secret(secret)
    logger.info("calling with token %s for %s", secret, "acme")
    assert stream.getvalue() == "INFO calling with token *** for acme\n"


def test_redacting_filter_formats_args_first_and_clears_them():
    secret = unique_secret()
    register_secret(secret)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a=%s b=%d", (secret, 7), None)
    assert RedactingFilter().filter(record) is True
    assert record.msg == "a=*** b=7"
    assert record.args is None


def test_redacting_filter_scrubs_exception_text(captured):
    logger, stream = captured
    secret = unique_secret()
    register_secret(secret)
    try:
        raise ValueError(f"backend rejected {secret}")
    except ValueError:
        logger.exception("request failed")
    output = stream.getvalue()
    assert "ValueError: backend rejected ***" in output
    assert "Traceback" in output
    assert secret not in output


def test_redacting_filter_survives_bad_format_arguments():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items", ("many",), None)
    assert RedactingFilter().filter(record) is True
    assert "could not be formatted" in record.msg
    assert record.args is None


def test_redacting_filter_uses_extra_secrets_given_to_it():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "pw %s", ("local-only-pw",), None)
    RedactingFilter(extra_secrets=["local-only-pw"]).filter(record)
    assert record.msg == "pw ***"


def test_install_on_a_logger_covers_records_from_child_loggers_and_is_idempotent():
    parent = logging.getLogger(f"test_redact_parent_{uuid.uuid4().hex}")
    parent.setLevel(logging.DEBUG)
    parent.propagate = False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    parent.addHandler(handler)
    try:
        first = install_log_redaction(parent)
        second = install_log_redaction(parent)
        assert first is second
        assert handler.filters.count(first) == 1
        secret = unique_secret()
        register_secret(secret)
        parent.getChild("http").warning("retrying %s", secret)
        assert stream.getvalue() == "retrying ***\n"
    finally:
        parent.removeHandler(handler)
