"""The stage layer: what every service receives instead of re-deriving it.

A service is handed a :class:`garmaxctl.stage.target.StageTarget` — the stage's AWS
session and clients, the account check done once, the stack outputs, the API URL, the
idle state — and reads shared facts (alarms, budgets, today's spend, prices, time ranges)
from the modules of this package. LOCAL is reached only through
:mod:`garmaxctl.stage.local`. This package imports no service and no command
(docs/architecture.md).
"""
