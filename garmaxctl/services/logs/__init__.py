"""``garmaxctl logs``: the stage's CloudWatch Logs (docs/logs.md).

- ``tail`` — follow or read the functions' log groups, interleaved by time: Live Tail
  (``livetail``) or FilterLogEvents polling (``polling``), one event model (``events``);
- ``query`` — Logs Insights.
"""
