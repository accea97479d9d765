"""``garmaxctl local up | down | status | logs | reset``: the embedded AWS emulator."""

from __future__ import annotations

import time

import typer

from garmaxctl import output
from garmaxctl.commands import new_typer, options

app = new_typer("Run the embedded AWS emulator (the LOCAL stage) on this machine.")


def _status_table(status: object) -> output.Table:
    fields = ("running", "managed", "endpoint_url", "pid", "started_at", "uptime_s",
              "log_path", "detail")
    return output.kv_table(((f, getattr(status, f)) for f in fields), title="local emulator")


@app.command("up")
def up(
    ctx: typer.Context,
    detach: bool = typer.Option(False, "--detach", "-d", help="Run in the background."),
) -> None:
    """Start the emulator on localhost:4566 (GARMAX_LOCAL_PORT); Ctrl-C stops it."""
    from garmaxctl import emulator

    options(ctx)
    port = emulator.default_port()
    state_dir = emulator.default_state_dir()
    if detach:
        status = emulator.start_detached(port, state_dir)
        line = (f"already running at {status.endpoint_url} (pid {status.pid})"
                if status.already_running else
                f"emulator running at {status.endpoint_url} (pid {status.pid})")
        output.emit(output.Outcome(data=status, lines=[line]))
        return
    running = emulator._check_port_free_for_us(port, state_dir)
    if running:
        output.emit(output.Outcome(
            data=running, lines=[f"already running at {running.endpoint_url} "
                                 f"(pid {running.pid}); stop it with `garmaxctl local down`"]))
        return
    state_dir.mkdir(parents=True, exist_ok=True)

    def ready(state: emulator.EmulatorState) -> None:
        output.note(f"emulator running at {state.endpoint_url} (pid {state.pid}); "
                    "Ctrl-C to stop")

    emulator.serve(port, state_dir, ready=ready)
    output.emit(output.Outcome(data={"stopped": True, "endpoint_url": emulator.endpoint_for(port)},
                               lines=["emulator stopped"]))


@app.command("down")
def down(ctx: typer.Context) -> None:
    """Stop the emulator that garmaxctl started (never anything else)."""
    from garmaxctl import emulator

    options(ctx)
    result = emulator.stop(emulator.default_state_dir())
    output.emit(output.Outcome(data=result, lines=[result.detail]))


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Endpoint, pid and uptime; exit 1 when the emulator is not running."""
    from garmaxctl import emulator

    options(ctx)
    current = emulator.status(emulator.default_state_dir(), emulator.default_port())
    code = output.emit(output.Outcome(
        data=current, tables=[_status_table(current)], exit_code=0 if current.running else 1,
        error=None if current.running else {"code": "emulator_not_running",
                                            "message": f"emulator {current.detail}"}))
    if code:
        raise typer.Exit(code)


@app.command("logs")
def logs(
    ctx: typer.Context,
    lines: int = typer.Option(100, "--lines", "-n", min=0, help="Last N lines (0: all)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
) -> None:
    """Show the emulator's log."""
    from pathlib import Path

    from garmaxctl import emulator

    opts = options(ctx)
    log_path = Path(emulator.default_state_dir()) / emulator.LOG_FILE
    content = emulator.read_log(log_path, lines)
    if not log_path.exists():
        output.note(f"no log yet at {log_path}: start the emulator with `garmaxctl local up`")
    output.emit(output.Outcome(data={"log_path": str(log_path), "lines": content},
                               lines=content))
    if follow and opts.output != "json":
        with open(log_path, "rb") as handle:
            handle.seek(0, 2)
            while True:
                chunk = handle.readline()
                if chunk:
                    typer.echo(chunk.decode(errors="replace"), nl=False)
                else:
                    time.sleep(0.5)


@app.command("reset")
def reset(ctx: typer.Context) -> None:
    """Wipe every resource held by the emulator."""
    from garmaxctl import emulator

    opts = options(ctx)
    endpoint = opts.aws.endpoint_url if opts.stage_config.is_local else None
    endpoint = endpoint or emulator.endpoint_for(emulator.default_port())
    emulator.reset(endpoint)
    output.emit(output.Outcome(data={"reset": True, "endpoint_url": endpoint},
                               lines=[f"emulator at {endpoint} reset: every resource wiped"]))
