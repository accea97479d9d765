"""GARMAX AI runtime services: the Lambda handlers that the CDK app deploys.

Layout: ``handlers/`` (one module per Lambda entry point, see ``contract.HANDLERS``),
``api/`` (the API's routers), ``domain/`` (sessions, renders, quotas, budget ledger,
billing, events), ``providers/`` (render providers), ``config.py`` (environment and
Parameter Store), ``aws.py`` (boto3 clients). Imports from ``garmaxctl`` are limited to
``garmaxctl.shared.contract`` and ``garmaxctl.shared.stages``: those are bundled with the Lambda.
"""
