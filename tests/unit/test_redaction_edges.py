"""Redaction happens before a message is cut, and in tables as in JSON documents."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from garmaxctl import output, redact

SECRET = "sk_live_Zq9edge" + "0123456789abcdefghij"


@pytest.fixture(autouse=True)
def registered() -> None:
    redact.register(SECRET)


def test_an_unexpected_error_is_redacted_before_it_is_cut() -> None:
    from garmaxctl.app import classify

    _, _, message, _ = classify(RuntimeError("x" * 285 + SECRET))
    assert SECRET[:12] not in message


def test_an_aws_message_is_redacted_before_it_is_cut() -> None:
    from garmaxctl.aws import translate_error

    error = ClientError({"Error": {"Code": "ValidationException",
                                   "Message": "y" * 185 + SECRET}}, "PutParameter")
    assert SECRET[:12] not in translate_error(error, "DEV").one_line()


def test_a_table_cell_never_shows_a_registered_secret(capsys) -> None:
    output.emit(output.Outcome(data={}, tables=[output.Table(columns=("k", "v"),
                                                             rows=[("key", SECRET)])]))
    printed = capsys.readouterr().out
    assert "key" in printed and SECRET[:12] not in printed
