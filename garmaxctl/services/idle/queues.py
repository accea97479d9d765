"""The queues idle parks messages in, and their clocks (docs/idle.md, "Queues while idle").

While idle the SQS consumers are paused, so messages wait in their queues — verified Stripe
events in the billing queue, try-on and render requests in theirs — and SQS deletes a
message when its queue's retention (``MessageRetentionPeriod``, 14 days on this stack)
runs out. The kinds name the queues (``ResourceKind.queues``: the mappings' sources); each
one's dead-letter queue comes from its ``RedrivePolicy``. The clocks themselves are
``garmaxctl.stage.idle_state.queue_clocks`` (``health`` shows the same).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

from garmaxctl.services.idle import kinds
from garmaxctl.services.idle.context import one_line
from garmaxctl.stage.idle_state import (
    RETENTION_WARNING,
    QueueClock,
    QueueRef,
    idle_limit,
    not_found,
    queue_clocks,
    short_duration,
)

if TYPE_CHECKING:
    from garmaxctl.services.idle.context import Context
    from garmaxctl.services.idle.snapshot import Resources


def _url(ctx: Context, arn: str) -> str | None:
    account, name = arn.split(":")[4:6]
    try:
        return str(ctx.client("sqs").get_queue_url(
            QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])
    except Exception as exc:
        if not_found(exc) or "NonExistentQueue" in str(exc):
            ctx.notes.append(f"queue {name} not found: its clock is not shown")
            return None
        raise


def parked_queues(ctx: Context, resources: Resources) -> list[QueueRef]:
    """Each queue whose consumer idle pauses, followed by its DLQ (if it has one)."""
    refs: list[QueueRef] = []
    arns = [arn for kind in kinds.KINDS for arn in kind.queues(resources.of(kind))]
    for arn in dict.fromkeys(arns):
        url = _url(ctx, arn)
        if url is None:
            continue
        refs.append(QueueRef(url))
        policy = ctx.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"].get("RedrivePolicy")
        target = json.loads(policy).get("deadLetterTargetArn") if policy else None
        dlq = _url(ctx, target) if target else None
        if dlq is not None:
            refs.append(QueueRef(dlq, dlq=True, source=url))
    return refs


def clocks(ctx: Context, resources: Resources, *, now: dt.datetime,
           since: dt.datetime | None) -> list[QueueClock]:
    """The parked queues' clocks; a failure to read them is a note, never the run's."""
    try:
        return queue_clocks(ctx.client, parked_queues(ctx, resources), now=now,
                            idle_since=since)
    except Exception as exc:
        ctx.notes.append(f"the queues' clocks could not be read: {one_line(exc)}")
        return []


def clock_lines(found: list[QueueClock]) -> list[str]:
    """One line per queue holding messages: its warning, or how long its oldest waited."""
    lines = []
    for clock in found:
        if clock.warning:
            lines.append(clock.warning)
        elif clock.messages:
            kind = "DLQ" if clock.dlq else "queue"
            waited = f"the oldest may have waited {short_duration(clock.oldest_age_s)}" \
                if clock.oldest_age_s is not None else "the oldest message's age is unknown"
            lines.append(f"{kind} {clock.queue}: {clock.messages} message(s), {waited} of its "
                         f"{short_duration(clock.retention_s)} retention")
    return lines


def limit_note(found: list[QueueClock], now: dt.datetime) -> tuple[str | None, int | None,
                                                                     str]:
    """(idle until, seconds left, what to tell people) from the queues' clocks."""
    limit = idle_limit(found)
    if limit is None:
        return None, None, ("no queue idle parks messages in could be timed: no limit "
                            "from message retention" if not found else
                            "the oldest parked message's age is unknown (no CloudWatch "
                            "datapoint, no snapshot): see `idle status`")
    seconds, queue = int(limit[0]), limit[1]
    until = now + dt.timedelta(seconds=seconds)
    stamp = until.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    if seconds <= 0:
        return stamp, seconds, (f"messages parked in {queue} may already have expired: run "
                                "`garmaxctl idle up`")
    return stamp, seconds, (
        f"the stage may stay idle until {stamp} ({short_duration(seconds)} from now): then "
        f"the oldest message parked in {queue} expires (its MessageRetentionPeriod); "
        f"`idle status` and `health` warn from {RETENTION_WARNING.days} days before")
