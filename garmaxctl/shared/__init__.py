"""What garmaxctl shares with the runtime it deploys: the names both sides agree on
(``contract``), the typed stage configuration (``stages``) and the error hierarchy
(``errors``). This package is bundled with the Lambda code as a whole
(``infra/bundling.py``); ``runtime/`` imports nothing else of garmaxctl (an import
contract in pyproject.toml). It imports nothing outside itself."""
