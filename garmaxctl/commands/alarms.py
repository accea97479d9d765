"""``garmaxctl alarms``: the stage's CloudWatch alarms — list, show, history, test, mute,
unmute (docs/alarms.md). Tables keep to short names and few columns; reasons and other
long text are stacked lines below them, so they read at an 80-column terminal."""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer

from garmaxctl import completion, output
from garmaxctl.cli import confirm, options

STATE_CHOICES = ("ALARM", "OK", "INSUFFICIENT_DATA")


def _when(moment: dt.datetime | None) -> str:
    return "-" if moment is None else f"{moment.astimezone(dt.UTC):%m-%d %H:%M}"


def _stamp(moment: dt.datetime | None) -> str:
    return "-" if moment is None else f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%SZ}"


def _actions_json(actions: Any) -> dict[str, Any]:
    return {"status": actions.status, "text": actions.text, "muted_by": actions.by,
            "muted_until": actions.until, "mute_rules": actions.rules}


def _notes(notes: list[str]) -> list[str]:
    return [f"note: {n}" for n in notes]


# ----------------------------------------------------------------------------- list

def list_(
    ctx: typer.Context,
    state: str | None = typer.Option(None, "--state", metavar="STATE",
                                     help="Only alarms in ALARM, OK or INSUFFICIENT_DATA."),
) -> output.Outcome:
    """The stage's alarms: state, since when, why, and whether their actions run."""
    from garmaxctl.services import alarms
    from garmaxctl.shared.errors import UsageError

    if state is not None and state.upper() not in STATE_CHOICES:
        raise UsageError(f"--state takes one of {', '.join(STATE_CHOICES)}, not {state!r}")
    result = alarms.list_alarms(options(ctx).target, state=state.upper() if state else None)
    return list_outcome(result)


def list_outcome(result: Any) -> output.Outcome:
    data = {"stage": result.stage, "state": result.state_filter, "notes": result.notes,
            "alarms": [{"name": r.name, "short_name": r.short, "state": r.state,
                        "since": r.since, "reason": r.reason,
                        "actions": _actions_json(r.actions)} for r in result.alarms]}
    title = f"alarms — stage {result.stage} (times UTC)" + (
        f", {result.state_filter} only" if result.state_filter else "")
    rows = [(r.short, r.state, _when(r.since), r.actions.text) for r in result.alarms]
    lines = [] if result.alarms else ["no alarms" + (
        f" in {result.state_filter}" if result.state_filter else "")]
    reasons = [f"{r.short}: {r.reason}" for r in result.alarms if r.reason]
    if reasons:
        lines += ["", "reasons", *reasons]
    return output.Outcome(
        data=data, lines=lines + _notes(result.notes),
        tables=[output.Table(columns=("alarm", "state", "since", "actions"), rows=rows,
                             title=title)])


# ----------------------------------------------------------------------------- show

def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The alarm: short (LambdaErrors) or full name.",
                               autocompletion=completion.alarms),
) -> output.Outcome:
    """One alarm: its condition in words, metrics, actions, state and last transitions."""
    from garmaxctl.services import alarms

    return show_outcome(alarms.show_alarm(options(ctx).target, name))


def show_outcome(d: Any) -> output.Outcome:
    data = {"name": d.name, "short_name": d.short, "description": d.description,
            "state": d.state, "since": d.since, "reason": d.reason,
            "condition": d.condition, "metrics": d.metrics,
            "actions": _actions_json(d.actions), "alarm_actions": d.alarm_actions,
            "ok_actions": d.ok_actions,
            "insufficient_data_actions": d.insufficient_data_actions,
            "transitions": [_event_json(e) for e in d.transitions], "notes": d.notes}
    summary = output.kv_table([("state", d.state), ("since", _stamp(d.since)),
                               ("actions", d.actions.text)], title=f"{d.short} — {d.name}")
    transitions = output.Table(
        columns=("time (UTC)", "change"),
        rows=[(_stamp(e.time), e.change) for e in d.transitions],
        title="last transitions")
    lines = ["", f"description: {d.description or '-'}", f"condition: {d.condition}",
             "metrics:", *[f"  {m}" for m in d.metrics],
             "alarm actions:", *[f"  {a}" for a in d.alarm_actions or ["-"]],
             f"reason: {d.reason}"]
    if d.ok_actions:
        lines += ["OK actions:", *[f"  {a}" for a in d.ok_actions]]
    if d.insufficient_data_actions:
        lines += ["INSUFFICIENT_DATA actions:",
                  *[f"  {a}" for a in d.insufficient_data_actions]]
    return output.Outcome(data=data, tables=[summary, transitions],
                          lines=lines + _notes(d.notes))


# ----------------------------------------------------------------------------- history

def _event_json(e: Any) -> dict[str, Any]:
    return {"time": e.time, "alarm": e.alarm, "short_name": e.short, "type": e.type,
            "summary": e.summary, "old_state": e.old_state, "new_state": e.new_state,
            "reason": e.reason, "action": e.action, "action_state": e.action_state,
            "error": e.error}


def history(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="One alarm (short or full); all by default.",
                                      autocompletion=completion.alarms),
    since: str = typer.Option("7d", "--since", help="How far back: 1h, 7d, or an ISO time."),
    flapping: bool = typer.Option(False, "--flapping",
                                  help="Only alarms with ≥ 4 state changes in an hour."),
) -> output.Outcome:
    """State changes and action results from the alarms' history, newest first."""
    from garmaxctl.services import alarms
    from garmaxctl.stage.timerange import parse_range

    start, end = parse_range(since=since)
    result = alarms.alarm_history(options(ctx).target, name=name, start=start, end=end,
                                  flapping_only=flapping)
    return history_outcome(result)


def history_outcome(h: Any) -> output.Outcome:
    data = {"stage": h.stage, "alarm": h.alarm, "start": h.start, "end": h.end,
            "flapping_only": h.flapping_only,
            "flapping": [{"alarm": f.alarm, "short_name": f.short,
                          "transitions_in_an_hour": f.transitions,
                          "window_start": f.window_start} for f in h.flapping],
            "events": [_event_json(e) for e in h.events]}
    flappers = {f.alarm for f in h.flapping}
    rows = [(_stamp(e.time)[5:], e.short + (" ⚑" if e.alarm in flappers else ""), e.change)
            for e in h.events]
    nothing = ("no alarm changed state 4 times or more within an hour in that time"
               if h.flapping_only else "no state changes or actions in that time")
    lines = [] if h.events else [nothing]
    lines += [f"flapping: {f.short}: {f.transitions} state changes within an hour from "
              f"{_stamp(f.window_start)}" for f in h.flapping]
    return output.Outcome(data=data, lines=lines, tables=[output.Table(
        columns=("time (UTC)", "alarm", "change"), rows=rows,
        title=f"alarm history — stage {h.stage}, since {_stamp(h.start)}"
              + (" (⚑ flapping)" if h.flapping else ""))])


# ----------------------------------------------------------------------------- test

def test(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The alarm: short (LambdaErrors) or full name.",
                               autocompletion=completion.alarms),
    timeout: str = typer.Option("60s", "--timeout", help="How long to wait for the proof."),
) -> output.Outcome:
    """Set the alarm to ALARM, show that its notification was accepted, put it back.
    It pages whoever is subscribed: PROD asks first."""
    from garmaxctl.services import alarms
    from garmaxctl.stage.timerange import parse_duration

    wait = parse_duration(timeout, option="--timeout")
    opts = options(ctx)
    confirm(opts, f"set alarm {name} to ALARM (it notifies its subscribers)")
    return test_outcome(alarms.prove_notification(opts.target, name, timeout=wait))


def test_outcome(result: Any) -> output.Outcome:
    from garmaxctl.shared.errors import OperationError

    lines = ([f"proof: {result.summary}"] if result.proved else
             [f"not proved: {result.problem}"])
    rows = [("alarm", result.short), ("notified", "yes" if result.proved else "no"),
            ("at", _stamp(result.notified_at)), ("waited", f"{result.waited_s:g} s"),
            ("state before", result.state_before),
            ("state now", result.state_after or result.state_before)]
    failure = None if result.proved else OperationError(
        f"alarm {result.short}: notification not proved: {result.problem}",
        code="notification_unproved")
    changed = [f"{result.short}: set to ALARM, then back to {result.state_after or '?'}"]
    return output.Outcome(data=result, tables=[output.kv_table(rows, title="alarm test")],
                          lines=lines, failure=failure, audit=output.Audit(changed=changed))


# ----------------------------------------------------------------------------- mute

def mute(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="The alarm (short or full name).",
                                      autocompletion=completion.alarms),
    every: bool = typer.Option(False, "--all", help="Every alarm of the stage."),
    for_: str = typer.Option(..., "--for", metavar="DURATION",
                             help="How long: 30m, 2h, 3d (15d at most)."),
    reason: str = typer.Option(..., "--reason", help="Why (kept with the mute rule)."),
) -> output.Outcome:
    """Mute the alarm's actions for a while (a CloudWatch alarm mute rule: the alarm still
    changes state; the rule expires on its own)."""
    from garmaxctl.services import alarms
    from garmaxctl.services.alarms.mute import check_duration
    from garmaxctl.stage.timerange import parse_duration

    duration = parse_duration(for_, option="--for")
    check_duration(duration)
    opts = options(ctx)
    confirm(opts, f"mute {'every alarm' if every else name} for {for_}")
    return mute_outcome(alarms.mute(opts.target, name=name, every=every, duration=duration,
                                    reason=reason))


def unmute(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="The alarm (short or full name).",
                                      autocompletion=completion.alarms),
    every: bool = typer.Option(False, "--all", help="Every alarm of the stage."),
) -> output.Outcome:
    """Remove garmaxctl's mute rule of the alarm (or of every alarm)."""
    from garmaxctl.services import alarms

    opts = options(ctx)
    confirm(opts, f"unmute {'every alarm' if every else name}")
    return mute_outcome(alarms.unmute(opts.target, name=name, every=every))


def mute_outcome(r: Any) -> output.Outcome:
    from garmaxctl.shared.errors import PartialFailureError

    failure = None
    if r.action == "mute":
        rows = [(m.short, "NOT muted" if m.error else _when(m.expires)) for m in r.alarms]
        columns: tuple[str, ...] = ("alarm", "muted until (UTC)")
        lines = [f"reason: {r.reason}", "mute rules: garmaxctl-mute-<alarm full name>; "
                 "the alarms still change state; `garmaxctl alarms unmute` ends it sooner"]
        lines += [f"not muted: {m.short}: {m.error}" for m in r.failed]
        if r.failed:
            muted = [m.short for m in r.alarms if not m.error]
            failure = PartialFailureError(
                f"muted: {', '.join(muted) or 'none'}; not muted: "
                f"{', '.join(m.short for m in r.failed)} ({r.failed[0].error})",
                hint="run the same `garmaxctl alarms mute` again for the rest")
        changed = [f"muted {m.short} until {_when(m.expires)}" for m in r.alarms
                   if not m.error]
    else:
        rows = [(m.short, "removed" if m.removed else "was not muted") for m in r.alarms]
        columns = ("alarm", "mute rule")
        lines = []
        changed = [f"unmuted {m.short}" for m in r.alarms if m.removed]
    return output.Outcome(data=r, lines=lines + _notes(r.notes), failure=failure,
                          tables=[output.Table(columns=columns, rows=rows,
                                               title=f"alarms {r.action} — stage {r.stage}")],
                          audit=output.Audit(changed=changed))
