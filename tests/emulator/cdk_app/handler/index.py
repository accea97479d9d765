"""Tiny handler for the emulator bridge test app (moto never runs it without Docker)."""


def handler(event, context):
    return {"statusCode": 200, "body": "ok", "batchItemFailures": []}
