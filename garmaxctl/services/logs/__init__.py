"""``garmaxctl logs``: the stage's log groups — tail, Logs Insights queries (docs/logs.md)."""
