"""The root Typer app: global options, and the ONE place where results and errors become
exit codes (DESIGN.md "Contracts"; docs/exit-codes.md).

The command tree comes from ``garmaxctl.registry`` (built lazily by
``garmaxctl.cli.GarmaxGroup``). A command returns an :class:`garmaxctl.output.Outcome`;
:func:`finish` renders it and derives the exit code and symbolic error code from its
``failure`` with the same mapping as a raised error (:func:`classify`).

Global options are accepted before or after the command, as the aws CLI accepts them
(``garmaxctl -o json doctor`` and ``garmaxctl doctor -o json``). Nothing heavy is imported
here: ``garmaxctl --help`` loads no command module, boto3, pydantic, moto nor aws_cdk.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from typer._click import exceptions as click_exceptions

from garmaxctl import __version__, output, registry, run
from garmaxctl.cli import GarmaxGroup, GlobalOptions
from garmaxctl.shared.errors import ExitCode, GarmaxError

# Global options: name -> takes a value. Hoisted to the front of argv wherever they appear.
GLOBAL_OPTIONS: dict[str, bool] = {
    "--stage": True, "-s": True,
    "--profile": True,
    "--region": True,
    "--endpoint-url": True,
    "--output": True, "-o": True,
    "--env-file": True,
    "--yes": False, "-y": False,
    "--verbose": False, "-v": False,
    "--no-color": False,
}


def hoist_global_options(args: Sequence[str]) -> list[str]:
    """Move global options (and their values) in front of the command words."""
    front, rest = split_global_options(args)
    return front + rest


def split_global_options(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the global options with their values, the other words), each in typed order."""
    front: list[str] = []
    rest: list[str] = []
    items = list(args)
    i = 0
    while i < len(items):
        token = items[i]
        if token == "--":
            rest.extend(items[i:])
            break
        name = token.split("=", 1)[0] if token.startswith("--") else token
        if name in GLOBAL_OPTIONS:
            takes_value = GLOBAL_OPTIONS[name]
            if takes_value and "=" not in token and i + 1 < len(items):
                front.extend(items[i:i + 2])
                i += 2
                continue
            front.append(token)
        elif takes_short_value(token):
            front.append(token)
        else:
            rest.append(token)
        i += 1
    return front, rest


def takes_value(token: str) -> bool:
    """A global option that takes the next word as its value (``-s``, ``--output``)."""
    return GLOBAL_OPTIONS.get(token, False)


def takes_short_value(token: str) -> bool:
    """``-ojson`` / ``-sPROD``: a short global option with its value attached."""
    return len(token) > 2 and token[:2] in ("-o", "-s") and not token.startswith("--")


def _prescan(args: Sequence[str], flag_names: tuple[str, ...]) -> str | None:
    """Read a global option's value before Click parses (for errors during parsing): the
    last one given, as Click takes it."""
    items = list(args)
    found = None
    for i, token in enumerate(items):
        if token == "--":
            break
        for name in flag_names:
            if token == name and i + 1 < len(items):
                found = items[i + 1]
            elif token.startswith(name + "=") and name.startswith("--"):
                found = token.split("=", 1)[1]
            elif len(name) == 2 and token.startswith(name) and len(token) > 2:
                found = token[2:]
    return found


class RootGroup(GarmaxGroup):
    """The root group: hoists global options, renders the command's result, maps errors."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        argv = hoist_global_options(argv)
        _never_fail_to_print()
        output.reset()
        run.begin()
        # Each run starts quiet; --verbose turns it on. Only garmaxctl.redact turns it on:
        # a process that never imported it (with logging) has nothing to turn off.
        if (redact := sys.modules.get("garmaxctl.redact")) is not None:
            redact.disable_verbose_logging()
        mode = (_prescan(argv, ("--output", "-o")) or os.environ.get("GARMAX_OUTPUT") or "table")
        stage = _prescan(argv, ("--stage", "-s")) or os.environ.get("GARMAX_STAGE") or "LOCAL"
        output.configure(mode="json" if mode.lower() == "json" else "table",
                         stage=stage.strip().upper(),
                         verbose="--verbose" in argv or "-v" in argv,
                         color="--no-color" not in argv)
        try:
            result = super().main(args=argv, prog_name=prog_name or "garmaxctl",
                                  complete_var=complete_var, standalone_mode=False,
                                  windows_expand_args=windows_expand_args, **extra)
            code = finish(result)
        except BaseException as exc:
            code = handle_exception(exc)
        if standalone_mode:
            sys.exit(code)
        return code

    def _main_shell_completion(self, ctx_args: Any, prog_name: str,
                               complete_var: str | None = None) -> None:
        """Shell completion (``_GARMAXCTL_COMPLETE`` set by the script Typer installs):
        garmaxctl's values and its way of parsing the line (garmaxctl.completion)."""
        var = complete_var or f"_{prog_name}_COMPLETE".replace("-", "_").upper()
        if not os.environ.get(var):
            return
        try:
            from garmaxctl import completion

            completion.teach_root_options(self)
            completion.use_garmax_shells(split_global_options, takes_value)
            super()._main_shell_completion(ctx_args, prog_name, complete_var)
        except Exception:  # no error text where the shell expects completions
            sys.exit(1)


def _never_fail_to_print() -> None:
    """A byte of argv that is not UTF-8 reaches Python as a surrogate (``\\udcff``), which a
    strict stdout (a UTF-8 locale's default) cannot encode: printing a path the user typed
    must not fail the run. Unencodable characters are written as backslash escapes."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # a stream that cannot: as is
                reconfigure(errors="backslashreplace")


def finish(result: Any) -> int:
    """Render a command's result; its exit code follows from its ``failure`` (if any)."""
    if isinstance(result, output.Outcome):
        if result.failure is None:
            audit(ExitCode.OK, "ok", result.audit)
            return output.emit(result, exit_code=ExitCode.OK)
        exit_code, code, message, _ = classify(result.failure)
        audit(exit_code, code, result.audit)
        return output.emit(result, exit_code=exit_code,
                           error={"code": code, "message": _redact(message)})
    status = result if isinstance(result, int) and not isinstance(result, bool) else 0
    audit(status, "ok" if status == 0 else "failed", None)
    return status


def audit(exit_code: int, outcome: str, contribution: output.Audit | None) -> None:
    """The audit hook: a command marked ``mutates`` in the registry that ran (its options
    parsed) gets one record, whatever its outcome (docs/security.md, "Audit trail"). A
    failure to write it is a warning (stderr and the JSON ``warnings``): it never changes
    the exit code."""
    current = run.current()
    entry = registry.find(current.command) if current.invoked else None
    if entry is None or not entry.mutates or current.audited:
        return
    current.audited = True  # a broken pipe while rendering comes back here: one record
    opts = current.options
    try:
        from garmaxctl.services import audit as service

        facts = service.RunFacts(
            run_id=current.run_id, started=current.started,
            stage=str(opts.stage.value), command=current.command, params=current.params,
            options={"profile": opts.profile, "region": opts.region,
                     "endpoint_url": opts.endpoint_url, "yes": opts.yes},
            exit_code=int(exit_code), outcome=outcome,
            changed=list(contribution.changed) if contribution else [],
            plan=output.to_jsonable(contribution.plan) if contribution else None,
            caller=opts.known_caller())
        report = service.record_run(facts, opts.reached_target)
        for warning in report.warnings:
            output.document_warning(_redact(warning))
    except Exception as exc:  # the change stands; its record is what failed
        output.document_warning(_redact(
            f"the audit record of run {current.run_id} was not written: "
            f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]))


def handle_exception(exc: BaseException) -> int:
    """Map any exception to (exit code, symbolic code, one-line message) and render it."""
    verbose = output.options().verbose
    if isinstance(exc, SystemExit):
        status = int(exc.code or 0) if not isinstance(exc.code, str) else ExitCode.FAILURE
        audit(status, "ok" if status == 0 else "failed", None)
        return status
    if isinstance(exc, click_exceptions.NoArgsIsHelpError):
        return ExitCode.USAGE  # the help is already on screen
    exit_code, code, message, data = classify(exc)
    audit(exit_code, code, None)
    # --verbose: the traceback of a bug, or of the AWS/OS error behind a GarmaxError.
    expected = isinstance(exc, GarmaxError) and exc.__cause__ is None
    if verbose and not expected and exit_code not in (ExitCode.USAGE, ExitCode.INTERRUPTED):
        import traceback

        sys.stderr.write(_redact("".join(traceback.format_exception(exc))))
    output.emit_error(code, _redact(message), exit_code, data)
    return exit_code


def _redact(text: str) -> str:
    from garmaxctl import redact  # imports logging: not on the path of --help

    return redact.redact(text)


def classify(exc: BaseException) -> tuple[int, str, str, Any]:
    if isinstance(exc, GarmaxError):
        return exc.exit_code, exc.code, exc.one_line(), exc.data or None
    if isinstance(exc, (KeyboardInterrupt, typer.Abort)):
        return ExitCode.INTERRUPTED, "interrupted", "interrupted", None
    if isinstance(exc, click_exceptions.UsageError):
        message = " ".join(exc.format_message().split())
        where = exc.ctx.command_path if exc.ctx else "garmaxctl"
        return ExitCode.USAGE, "usage", f"{message} (see `{where} --help`)", None
    if isinstance(exc, click_exceptions.ClickException):
        return exc.exit_code, "usage", " ".join(exc.format_message().split()), None
    if type(exc).__module__.startswith(("botocore", "boto3")):
        from garmaxctl.aws import translate_error

        translated = translate_error(exc, output.options().stage or "LOCAL")
        return translated.exit_code, translated.code, translated.one_line(), None
    if isinstance(exc, BrokenPipeError):
        return ExitCode.FAILURE, "broken_pipe", "output closed early", None
    if isinstance(exc, OSError) and exc.filename is not None:
        return _file_error(exc)
    name = type(exc).__name__
    detail = _redact(" ".join(str(exc).split()))[:300]  # redacted before it is cut
    return (ExitCode.FAILURE, "internal_error",
            f"unexpected error: {name}: {detail} (rerun with --verbose for a traceback, and "
            "report it)", None)


# A path that cannot name a file (too long, a missing folder, a folder where a file is
# expected): the input must change. Anything else (permissions, a full disk) failed.
_BAD_PATH_ERRNOS = {"ENAMETOOLONG", "ENOENT", "ENOTDIR", "EISDIR", "EINVAL", "ELOOP"}


def _file_error(exc: OSError) -> tuple[int, str, str, Any]:
    import errno

    name = str(exc.filename)
    shown = name if len(name) <= 120 else name[:60] + "…" + name[-40:]
    reason = exc.strerror or type(exc).__name__
    bad_path = errno.errorcode.get(exc.errno or 0) in _BAD_PATH_ERRNOS
    return (ExitCode.USAGE if bad_path else ExitCode.FAILURE, "file_error",
            _redact(f"cannot use {shown}: {reason}"), None)


def _version_callback(ctx: typer.Context, value: bool) -> None:
    if value and not ctx.resilient_parsing:  # not while a shell completes the line
        from garmaxctl import build_info

        typer.echo(f"garmaxctl {__version__} ({build_info.describe()})")
        raise typer.Exit()


app = typer.Typer(
    cls=RootGroup,
    name="garmaxctl",
    help="Deploy and operate the GARMAX AI platform on AWS (LOCAL: the embedded emulator).",
    no_args_is_help=True,
    add_completion=True,  # --install-completion, --show-completion (garmaxctl.completion)
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    stage: str = typer.Option("LOCAL", "--stage", "-s", envvar="GARMAX_STAGE",
                              help="LOCAL, DEV, QA or PROD (any case)."),
    profile: str | None = typer.Option(None, "--profile", help="AWS profile (real stages)."),
    region: str | None = typer.Option(None, "--region", help="AWS region (default: stage's)."),
    endpoint_url: str | None = typer.Option(None, "--endpoint-url",
                                            help="Send AWS calls to this endpoint."),
    output_mode: str = typer.Option("table", "--output", "-o", envvar="GARMAX_OUTPUT",
                                    help="table or json.", case_sensitive=False),
    yes: bool = typer.Option(False, "--yes", "-y", help="Approve changes without prompting."),
    verbose: bool = typer.Option(False, "--verbose", "-v",
                                 help="Debug logs and tracebacks (secrets redacted)."),
    no_color: bool = typer.Option(False, "--no-color", help="No colour (also NO_COLOR)."),
    env_file: Path = typer.Option(Path(".env"), "--env-file", help="The .env file to read."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_version_callback,
                                 help="Show the version and exit."),
) -> None:
    mode = output_mode.lower()
    if mode not in ("table", "json"):
        raise typer.BadParameter(f"{output_mode!r} is not one of table, json",
                                 param_hint="'--output'")
    if endpoint_url is not None:
        check_endpoint_url(endpoint_url)
    output.configure(mode=mode, color=not no_color)
    options = GlobalOptions.create(stage=stage, profile=profile, region=region,
                                   endpoint_url=endpoint_url, output=mode, yes=yes,
                                   verbose=verbose, no_color=no_color, env_file=env_file)
    output.configure(stage=options.stage.value)
    ctx.obj = options
    if verbose:
        from garmaxctl import redact

        redact.enable_verbose_logging()


def check_endpoint_url(url: str) -> None:
    """``--endpoint-url`` must be an http(s) URL with a host (and a valid port): botocore
    would otherwise fail with a ValueError deep inside the first client it makes."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # a ValueError for a port out of range or not a number
    except ValueError:
        valid = False
    if not valid:
        raise typer.BadParameter(f"{url!r} is not an http(s) URL (e.g. http://localhost:4566)",
                                 param_hint="'--endpoint-url'")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
