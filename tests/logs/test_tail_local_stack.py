"""``logs tail`` end to end on the deployed LOCAL stack (the `local_stack` fixture): after a
request to the local API, ``logs tail api --since 5m`` shows the Api's own lines, which
the local platform wrote into the emulator as Lambda would (tests/local/
test_local_stack_telemetry.py), through FilterLogEvents (LOCAL's endpoint override)."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest

from garmaxctl.shared import contract
from tests.conftest import api_request, wait_for

pytestmark = pytest.mark.slow


def test_logs_tail_shows_the_apis_lines_after_a_request(local_stack) -> None:
    user = f"user-{uuid.uuid4().hex[:8]}"
    missing = f"no-such-session-{uuid.uuid4().hex[:8]}"
    asked = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    code, _ = api_request(f"{local_stack.api_url}/api/tryon/sessions/{missing}", user=user)
    assert code == 404
    group = contract.function_log_group(contract.Function.API, "LOCAL")

    def tailed() -> dict | None:
        done = local_stack.garmaxctl("-o", "json", "logs", "tail", "api", "--since", "5m")
        document = json.loads(done.stdout)
        events = document["data"]["events"]
        mine = [e for e in events if e["message"] == "request refused"
                and dt.datetime.fromisoformat(e["time"]) >= asked]
        return document if mine else None

    document = wait_for(tailed, timeout=60)
    events = document["data"]["events"]
    assert all(e["function"] == "api" and e["group"] == group for e in events)
    refused = [e for e in events if e["message"] == "request refused"]
    assert refused[-1]["level"] == "INFO" and refused[-1]["kind"] == "powertools"
    assert refused[-1]["request_id"]
    # START/END/REPORT only with --raw.
    assert not any(e["kind"] == "platform" for e in events)
    raw = json.loads(local_stack.garmaxctl("-o", "json", "logs", "tail", "api", "--since",
                                           "5m", "--raw").stdout)["data"]["events"]
    assert any(e["message"].startswith("REPORT RequestId: ") for e in raw)

    # For people, at 80 columns: HH:MM:SS fn LEVEL message.
    done = local_stack.garmaxctl("logs", "tail", "api", "--since", "5m",
                                 extra_env={"COLUMNS": "80"})
    lines = done.stdout.splitlines()
    assert any(re.match(r"^\d\d:\d\d:\d\d api     INFO  request refused", line)
               for line in lines), done.stdout
    # Within 80 columns, or one word too long for any line, kept whole on its own line.
    too_long = [line for line in lines if len(line) > 80
                and not (len(line.split()) <= 4 and max(map(len, line.split())) > 57)]
    assert not too_long, too_long
    assert "FilterLogEvents" in done.stderr
