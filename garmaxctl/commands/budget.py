"""``garmaxctl budget status``: today's AI spend against the daily budgets (docs/cost.md)."""

from __future__ import annotations

from typing import Any

import typer

from garmaxctl import output
from garmaxctl.cli import options


def _money(usd: float | None) -> str:
    return "-" if usd is None else f"${usd:,.2f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def short(name: str, width: int = 24) -> str:
    """A long id shortened in the middle, so an 80-column table never breaks it (JSON keeps
    it whole)."""
    return name if len(name) <= width else f"{name[:width - 9]}…{name[-8:]}"


def status(ctx: typer.Context) -> output.Outcome:
    """Today's spend per provider and in total against the daily budgets, the breaker's
    level (normal, warn 80%, Bedrock off 90%, rendering off 100%), the users closest to
    their quotas, and on real stages the AWS Budgets budget's actual and forecast."""
    from garmaxctl.services import budget

    return status_outcome(budget.status(options(ctx).target))


def status_outcome(s: Any) -> output.Outcome:
    rows = [(p.provider, _money(p.spent_usd), _money(p.budget_usd), _pct(p.percent),
             p.renders) for p in s.providers]
    rows.append(("total", _money(s.spent_usd), _money(s.budget_usd), _pct(s.percent),
                 ""))
    tables = [output.Table(columns=("provider", "spent", "budget", "used", "renders"),
                           rows=rows, title=f"AI spend — stage {s.stage}, {s.day} (UTC)")]
    tables.append(output.kv_table([
        ("breaker", s.level_words or "-"),
        ("Bedrock", "-" if s.bedrock_enabled is None else
         ("on" if s.bedrock_enabled else "off (Replicate instead)")),
        ("rendering", "-" if s.rendering_enabled is None else
         ("on" if s.rendering_enabled else "off (requests refused)")),
    ], title="breaker"))
    q = s.quotas
    tables.append(output.Table(
        columns=("user", "try-ons", "renders", "running", "quota used"),
        rows=[(short(u.user), f"{u.tryons}/{q['max_tryons_per_user_daily']}",
               f"{u.renders}/{q['max_renders_per_user_daily']}",
               f"{u.concurrent}/{q['max_concurrent_renders_per_user']}",
               _pct(u.percent)) for u in s.top_users],
        title="top users by quota use today"))
    if s.aws_budget is not None:
        b = s.aws_budget
        pairs = [("name", b.name)]
        if b.problem:
            pairs.append(("problem", b.problem))
        else:
            period = (b.time_unit or "").lower() or "-"
            pairs += [("limit", f"{_money(b.limit_usd)} ({period})"),
                      ("actual", f"{_money(b.actual_usd)} ({_pct(b.actual_percent)})"),
                      ("forecast", f"{_money(b.forecast_usd)} ({_pct(b.forecast_percent)})")]
        tables.append(output.kv_table(pairs, title="AWS Budgets"))
    return output.Outcome(data=s, tables=tables, lines=[f"note: {n}" for n in s.notes])
