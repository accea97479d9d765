"""``garmaxctl cost``: the stage's cost from Cost Explorer, and its forecast (docs/cost.md).

Every Cost Explorer request costs $0.01: the footer says how many this run made and how
many came from the 6-hour cache; ``--max-api-spend`` caps a run, ``--refresh`` bypasses
the cache.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import typer

from garmaxctl import output
from garmaxctl.cli import options

BAR_WIDTH = 36
_EIGHTHS = " ▏▎▍▌▋▊▉"


def _explorer(ctx: typer.Context, refresh: bool, max_api_spend: float) -> Any:
    from garmaxctl.services.cost import CostExplorer

    return CostExplorer(options(ctx).target, refresh=refresh, max_api_spend_usd=max_api_spend)


def _money(usd: float | None) -> str:
    return "-" if usd is None else f"${usd:,.2f}"


def bar(value: float, scale: float, width: int = BAR_WIDTH) -> str:
    """``value`` as a bar of ``width`` at full ``scale``, in eighths of a character."""
    if scale <= 0 or value <= 0:
        return ""
    eighths = round(min(value / scale, 1.0) * width * 8)
    return "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")


def chart(periods: list[Any]) -> list[str]:
    """Daily totals as text bars: the stage's part ``█``, the untagged rest ``░``."""
    scale = max((max(p.account_usd, p.stage_usd) for p in periods), default=0.0)
    lines = []
    for p in periods:
        stage = bar(p.stage_usd, scale)
        whole = round(max(p.account_usd, p.stage_usd) / scale * BAR_WIDTH) if scale else 0
        rest = "░" * max(whole - len(stage), 0)
        mark = "*" if p.estimated else " "
        lines.append(f"{p.start}{mark} {(stage + rest).ljust(BAR_WIDTH)} "
                     f"{_money(p.stage_usd)} / {_money(p.account_usd)}")
    lines.append(f"{'':11} █ the stage's tag  ░ untagged (account only)  * estimated")
    return lines


def write_csv(path: Path, report: Any) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["start", "end", "scope", report.by, "amount_usd", "estimated"])
        for p in report.periods:
            for key, usd in p.groups.items():
                writer.writerow([p.start, p.end, "stage", key, f"{usd:.6f}", p.estimated])
            writer.writerow([p.start, p.end, "account", "(total)", f"{p.account_usd:.6f}",
                             p.estimated])


def report(
    ctx: typer.Context,
    since: str | None = typer.Option(None, "--since",
                                     help="How far back: 30d (default), 1w, or an ISO date."),
    from_: str | None = typer.Option(None, "--from", metavar="DATE",
                                     help="Start (ISO date or 15m/7d ago)."),
    until: str | None = typer.Option(None, "--until", metavar="DATE",
                                     help="End, exclusive at day granularity (default now)."),
    by: str = typer.Option("service", "--by", help="service | usage-type | function."),
    granularity: str = typer.Option("daily", "--granularity", help="daily | monthly."),
    csv_file: Path | None = typer.Option(None, "--csv", metavar="FILE",
                                         help="Also write every row to this CSV file."),
    refresh: bool = typer.Option(False, "--refresh",
                                 help="Ask Cost Explorer again (bypass the 6-hour cache)."),
    max_api_spend: float = typer.Option(0.05, "--max-api-spend", metavar="USD",
                                        help="Refuse a run whose requests cost more."),
) -> output.Outcome:
    """The stage's cost (its garmaxai:stage tag) beside the account's total, by service,
    usage type or function; a daily bar chart and the account's top services."""
    from garmaxctl.services import cost
    from garmaxctl.shared.errors import UsageError
    from garmaxctl.stage.timerange import parse_range

    if by not in cost.BY:
        raise UsageError(f"--by takes one of {', '.join(cost.BY)}, not {by!r}")
    if granularity not in cost.GRANULARITIES:
        raise UsageError(f"--granularity takes daily or monthly, not {granularity!r}")
    start, end = parse_range(since=since, from_=from_, until=until, default_since="30d")
    opts = options(ctx)
    result = cost.report(opts.target, _explorer(ctx, refresh, max_api_spend), start=start,
                         end=end, by=by, granularity=granularity)
    if csv_file is not None:
        write_csv(csv_file, result)
    return report_outcome(result, csv_file)


def report_outcome(result: Any, csv_file: Path | None = None) -> output.Outcome:
    span = f"{result.start} to {result.end} (exclusive)"
    tables = [output.Table(
        columns=(result.by, "USD", "share"),
        rows=[(line.key, _money(line.usd), f"{line.percent:.1f}%") for line in result.rows]
        + [("total (stage)", _money(result.stage_usd), "")],
        title=f"cost by {result.by} — stage {result.stage}, {span}")]
    if result.granularity == "monthly":
        tables.append(output.Table(
            columns=("month", "stage", "account", "untagged"),
            rows=[(p.start[:7] + ("*" if p.estimated else ""), _money(p.stage_usd),
                   _money(p.account_usd), _money(p.untagged_usd)) for p in result.periods],
            title="by month (* estimated)"))
    tables.append(output.Table(
        columns=("service", "USD", "share"),
        rows=[(line.key, _money(line.usd), f"{line.percent:.1f}%")
              for line in result.top_services],
        title="top services — the whole account"))
    tables.append(output.kv_table([
        ("stage (tagged)", _money(result.stage_usd)),
        ("account", _money(result.account_usd)),
        ("untagged", _money(result.untagged_usd)),
        ("estimated", _estimated(result.stage, result.estimated)),
    ], title="totals"))
    lines: list[str] = []
    if result.granularity == "daily" and result.periods:
        lines += ["", "daily totals (stage / account)", *chart(result.periods)]
    lines += [f"note: {n}" for n in result.notes]
    if csv_file is not None:
        lines.append(f"CSV written to {csv_file}")
    lines.append(result.api.footer())
    return output.Outcome(data=result, tables=tables, lines=lines)


def _estimated(stage: str, estimated: bool) -> str:
    if not estimated:
        return "no (final)"
    return "yes: estimated from LOCAL usage" if stage == "LOCAL" else "yes (not final yet)"


def forecast(
    ctx: typer.Context,
    refresh: bool = typer.Option(False, "--refresh",
                                 help="Ask Cost Explorer again (bypass the 6-hour cache)."),
    max_api_spend: float = typer.Option(0.05, "--max-api-spend", metavar="USD",
                                        help="Refuse a run whose requests cost more."),
) -> output.Outcome:
    """The cost from today to the end of the month, for the stage's tag and the account,
    with Cost Explorer's 80% prediction interval."""
    from garmaxctl.services import cost

    result = cost.forecast(options(ctx).target, _explorer(ctx, refresh, max_api_spend))
    rows = [(p.scope, _money(p.mean_usd),
             "-" if p.lower_usd is None else f"{_money(p.lower_usd)} to {_money(p.upper_usd)}",
             p.problem or "") for p in result.projections]
    lines = [result.api.footer()]
    if result.stage == "LOCAL":
        lines.insert(0, "estimated from LOCAL usage (the emulator's Cost Explorer bridge)")
    return output.Outcome(
        data=result,
        tables=[output.Table(
            columns=("scope", "forecast", f"{result.prediction_interval}% interval", "note"),
            rows=rows,
            title=f"forecast — stage {result.stage}, {result.start} to {result.end} "
                  "(exclusive)")],
        lines=lines)
