"""The GarmaxError hierarchy: every expected failure carries its exit code.

``app.py`` is the one place that turns these (and botocore's errors) into an exit code
and a one-line message. The table below is the contract of docs/exit-codes.md.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # success, healthy, in sync
    FAILURE = 1  # operation failed or target unhealthy
    USAGE = 2  # the command or its input must change
    CHANGES = 3  # a plan or diff found changes (only with --exit-code)
    INTERRUPTED = 130  # Ctrl-C


class GarmaxError(Exception):
    """An expected failure: one line for the user, a symbolic code for JSON, an exit code."""

    exit_code: ExitCode = ExitCode.FAILURE
    default_code = "failed"

    def __init__(self, message: str, *, code: str | None = None, hint: str | None = None,
                 data: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.hint = hint
        self.data = data or {}

    def one_line(self) -> str:
        text = self.message if not self.hint else f"{self.message}; {self.hint}"
        return " ".join(text.split())


# -- exit 1: the operation failed or the target is unhealthy -----------------------------

class OperationError(GarmaxError):
    default_code = "operation_failed"


class AwsError(OperationError):
    default_code = "aws_error"


class CredentialsError(OperationError):
    default_code = "no_credentials"


class AccountMismatchError(OperationError):
    default_code = "account_mismatch"


class EmulatorNotRunningError(OperationError):
    default_code = "emulator_not_running"


class EmulatorError(OperationError):
    default_code = "emulator_error"


class StackNotFoundError(OperationError):
    default_code = "stack_not_found"


class OutputMissingError(OperationError):
    default_code = "output_missing"


class ToolMissingError(OperationError):
    default_code = "tool_missing"


class CdkError(OperationError):
    default_code = "cdk_failed"


class PartialFailureError(OperationError):
    default_code = "partial_failure"


class UnhealthyError(OperationError):
    default_code = "unhealthy"


# -- exit 2: the command or its input must change ----------------------------------------

class UsageError(GarmaxError):
    exit_code = ExitCode.USAGE
    default_code = "usage"


class ConfigError(UsageError):
    default_code = "invalid_config"


class ConfirmationRequired(UsageError):
    default_code = "confirmation_required"


class ConfirmationDeclined(UsageError):
    default_code = "declined"


# -- exit 3: changes found ---------------------------------------------------------------

class ChangesFound(GarmaxError):
    """Raised by a command run with ``--exit-code`` after it rendered a non-empty plan."""

    exit_code = ExitCode.CHANGES
    default_code = "changes"


class Interrupted(GarmaxError):
    exit_code = ExitCode.INTERRUPTED
    default_code = "interrupted"


EXIT_CODE_TABLE: tuple[tuple[int, str], ...] = (
    (0, "success, healthy, in sync"),
    (1, "the operation failed or the target is unhealthy: AWS errors (AccessDenied, "
        "throttling past retries), no or expired credentials, emulator not running, stack or "
        "output missing, partial failure"),
    (2, "the command or its input must change: unknown option or stage, invalid .env, bad "
        "time range, a PROD change refused (no --yes, no terminal), confirmation declined"),
    (3, "a plan or diff found changes (only with --exit-code)"),
    (130, "interrupted (Ctrl-C)"),
)
