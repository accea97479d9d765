"""``garmaxctl local up | down | status | logs | reset``: the LOCAL stage on this machine.

Thin: parse, call :mod:`garmaxctl.local.workflow` (up, reset) or
:mod:`garmaxctl.local.supervisor` (down, status, logs), render."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import typer

from garmaxctl import output
from garmaxctl.cli import GlobalOptions, options, until_ctrl_c
from garmaxctl.shared.errors import EmulatorNotRunningError, UsageError


def _status_table(status: object) -> output.Table:
    fields = ("running", "managed", "endpoint_url", "api_url", "pid", "started_at", "uptime_s",
              "log_path", "detail")
    return output.kv_table(((f, getattr(status, f)) for f in fields), title="local")


def _local_only(opts: GlobalOptions) -> None:
    if not opts.stage_config.is_local:
        raise UsageError(f"`garmaxctl local` works on the LOCAL stage, not {opts.stage}",
                         hint="drop --stage (or GARMAX_STAGE)")


def up(
    ctx: typer.Context,
    detach: bool = typer.Option(False, "--detach", "-d", help="Run in the background."),
    emulator_only: bool = typer.Option(False, "--emulator-only",
                                       help="Only the AWS emulator: no deploy, API, workers."),
) -> output.Outcome:
    """Start the emulator (:4566), deploy LOCAL, serve the API (:3001); Ctrl-C stops all."""
    from garmaxctl.local import workflow

    opts = options(ctx)
    _local_only(opts)
    if detach:
        with output.progress("local up") as line:
            result = workflow.up_detached(opts.aws, emulator_only=emulator_only, progress=line)
        status = result.emulator
        verb = "already running" if status.already_running else "running"
        lines = [f"emulator {verb} at {status.endpoint_url} (pid {status.pid})"]
        if result.api_url:
            lines.append(f"API at {result.api_url} (try: curl {result.api_url}/api/health)")
        return output.Outcome(data=result, lines=lines)
    # The handlers' own logs and metrics print to stdout, as on Lambda; here stdout is the
    # command's (one JSON document with -o json), so they go to stderr with our notes.
    with contextlib.redirect_stdout(sys.stderr):
        ran = workflow.up_foreground(opts.aws, emulator_only=emulator_only, note=output.note,
                                     progress=output.progress)
    if isinstance(ran, workflow.ForegroundStopped):
        return output.Outcome(data=ran, lines=["emulator stopped"])
    return output.Outcome(
        data=ran, lines=[f"already running at {ran.endpoint_url} "
                         f"(pid {ran.pid}); stop it with `garmaxctl local down`"])


def down(ctx: typer.Context) -> output.Outcome:
    """Stop what `local up` started (never anything else)."""
    from garmaxctl.local import supervisor

    options(ctx)
    result = supervisor.stop(supervisor.default_state_dir())
    return output.Outcome(data=result, lines=[result.detail])


def status(ctx: typer.Context) -> output.Outcome:
    """Endpoint, API URL, pid and uptime; exit 1 when the emulator is not running."""
    from garmaxctl.local import supervisor

    options(ctx)
    current = supervisor.status(supervisor.default_state_dir(), supervisor.default_port())
    return output.Outcome(
        data=current, tables=[_status_table(current)],
        failure=None if current.running else EmulatorNotRunningError(
            f"emulator {current.detail}", hint="start it with `garmaxctl local up --detach`"))


def logs(
    ctx: typer.Context,
    lines: int = typer.Option(100, "--lines", "-n", min=0, help="Last N lines (0: all)."),
    follow: bool = typer.Option(False, "--follow", "-f",
                                help="Keep printing new lines until Ctrl-C."),
) -> output.Outcome:
    """The emulator's, gateway's and workers' log (one process, one file)."""
    from garmaxctl.local import supervisor

    options(ctx)
    log_path = supervisor.log_path()
    end = supervisor.log_size(log_path)  # shown up to here, followed from here
    content = supervisor.read_log(log_path, lines, end=end)
    if not log_path.exists():
        output.note(f"no log yet at {log_path}: start the emulator with `garmaxctl local up`")
    if not (follow and log_path.exists()):
        return output.Outcome(data={"log_path": str(log_path), "lines": content},
                              lines=content)
    return _follow(log_path, content, end)


def _follow(log_path: Path, content: list[str], end: int) -> output.Outcome:
    """``local logs --follow``: the last lines, then each new one until Ctrl-C (exit 0).
    Under ``-o json`` a stream: one ``line`` event per log line, then the closing line
    (docs/exit-codes.md, "Followers, watchers and streams")."""
    from garmaxctl import redact
    from garmaxctl.local import supervisor

    stream = output.is_json()
    if stream:
        output.begin_stream()
    shown = 0

    def show(line: str) -> None:
        nonlocal shown
        shown += 1
        if stream:
            output.stream_event("line", {"line": line})
        else:
            typer.echo(redact.redact(line))

    for line in content:
        show(line)
    with until_ctrl_c():
        for line in supervisor.follow_log(log_path, offset=end):
            show(line)
    return output.Outcome(data={"log_path": str(log_path), "lines_shown": shown})


def reset(ctx: typer.Context) -> output.Outcome:
    """Wipe every resource in the emulator; redeploy LOCAL when the platform runs."""
    from garmaxctl.local import workflow

    opts = options(ctx)
    _local_only(opts)
    with output.progress("local reset") as line:
        result = workflow.reset(opts.aws, line)
    detail = "wiped and redeployed" if result["redeployed"] else "every resource wiped"
    return output.Outcome(data=result,
                          lines=[f"emulator at {result['endpoint_url']} {detail}"],
                          audit=output.Audit(changed=[f"emulator {detail}"]))
