"""``garmaxctl cost``: Cost Explorer for the stage (docs/cost.md).

- :func:`report` — the stage's cost (its ``garmaxai:stage`` cost allocation tag) by
  service, usage type or function beside the account's total, per day or month, and the
  account's top services;
- :func:`forecast` — to the end of the month, with the prediction interval.

Both go through :class:`~garmaxctl.services.cost.explorer.CostExplorer`: every request
cached for 6 hours, counted, and capped by ``--max-api-spend``.
"""

from __future__ import annotations

from garmaxctl.services.cost.explorer import (
    DEFAULT_MAX_API_SPEND_USD,
    REQUEST_USD,
    ApiUsage,
    CostExplorer,
)
from garmaxctl.services.cost.report import (
    BY,
    GRANULARITIES,
    CostForecast,
    CostReport,
    forecast,
    report,
)

__all__ = ["BY", "DEFAULT_MAX_API_SPEND_USD", "GRANULARITIES", "REQUEST_USD", "ApiUsage",
           "CostExplorer", "CostForecast", "CostReport", "forecast", "report"]
