#!/usr/bin/env bash
# make demo: the main job end to end on the LOCAL stage, against the embedded emulator:
# the emulator, bootstrap and deploy of GarmaxAiStack-LOCAL with the real CDK CLI, the
# local API and workers, then params, idle and the checklist; everything is stopped at the
# end, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

stop() {
  step "garmaxctl local down"
  garmaxctl local down || true
}
trap stop EXIT

step "garmaxctl --version (and the commit it runs from)"
garmaxctl --version

step "garmaxctl local up --detach (emulator, bootstrap, deploy LOCAL, API, workers)"
garmaxctl local up --detach
API_URL=$(garmaxctl -o json local status | python -c 'import json,sys; print(json.load(sys.stdin)["data"]["api_url"])')

step "GET $API_URL/api/health, then a try-on session round trip through the local API"
python - "$API_URL" <<'PY'
import json
import sys
import time
import urllib.request

api = sys.argv[1]


def call(method, path, body=None):
    request = urllib.request.Request(api + path, method=method,
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json",
                                              "X-Garmax-Dev-User": "demo-user"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


print("GET /api/health ->", *call("GET", "/api/health"))
status, session = call("POST", "/api/tryon/sessions", {
    "avatarUrl": "https://example.com/avatar.jpg",
    "garmentUrl": "https://example.com/garment.jpg", "quality": "sd"})
print("POST /api/tryon/sessions ->", status, session["sessionId"], session["status"])
for _ in range(60):
    status, current = call("GET", f"/api/tryon/sessions/{session['sessionId']}")
    if current["status"] in ("preview_ready", "failed"):
        break
    time.sleep(0.5)
print("GET /api/tryon/sessions/{id} ->", status, current["status"])
if current["status"] != "preview_ready":
    sys.exit(f"try-on session ended {current['status']}: {current.get('error')}")
PY

step "garmaxctl outputs"
garmaxctl outputs

step "garmaxctl doctor"
garmaxctl doctor

step "garmaxctl config show"
garmaxctl config show

# --- params (issue 5): a demo .env from .env.example with local values -> LOCAL ------------
DEMO_ENV=.garmax/demo/.env.local
python - "$DEMO_ENV" <<'PY'
import sys
from pathlib import Path

from garmaxctl.services.params import dotenv_quote
from garmaxctl.settings import parse_env_text

local = {
    "JWT_SECRET": "local-demo-jwt-secret-0123456789abcdef",
    "INTERNAL_API_KEY": "local-demo-internal-key",
    "DATABASE_URL": "mysql://garmax:garmax@localhost:3306/garmax?charset=utf8mb4",
    "REDIS_URL": "redis://localhost:6379/0",
    "RDS_HOST": "localhost", "RDS_USERNAME": "garmax", "RDS_PASSWORD": "local-demo-#=pw",
    "FRONTEND_URL": "http://localhost:3000", "ALERT_EMAIL": "ops@example.com",
    "AWS_ACCOUNT_ID": "123456789012",
    "GEMINI_SERVICE_ACCOUNT_JSON": '{\n  "type": "service_account",\n  "project_id": "local"\n}',
}
values, _, _ = parse_env_text(Path(".env.example").read_text())
values.update(local)
out = Path(sys.argv[1])
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text("".join(f"{k}={dotenv_quote(v)}\n" for k, v in values.items()))
out.chmod(0o600)
print(f"wrote {out} ({len(values)} keys; placeholders stay placeholders)")
PY

step "garmaxctl params push (demo .env into LOCAL)"
garmaxctl --env-file "$DEMO_ENV" params push

step "garmaxctl params plan --exit-code (in sync: nothing to write)"
garmaxctl --env-file "$DEMO_ENV" params plan --exit-code

# --- health, verify, status (issue 7): the post-deployment checklist on LOCAL -----------
step "garmaxctl verify (items LOCAL cannot have are skipped with the reason)"
garmaxctl verify

step "garmaxctl status"
garmaxctl status

# --- idle (issue 6): scale LOCAL down, look at it, restore it exactly -----------------------
step "garmaxctl idle down (snapshot, then API stopped, consumers paused, rules disabled)"
garmaxctl idle down

step "garmaxctl idle status (live beside the snapshot, lock, saving)"
garmaxctl idle status

step "garmaxctl idle up (restore, read back, /api/health, archive the snapshot)"
garmaxctl idle up

# --- a failure to see (issue 12): a poison message in the try-on DLQ ----------------------
# Where a try-on message ends after its third failed delivery. The emulator samples the
# queues and evaluates the alarms every minute, as AWS does: GarmaxAI-TryonDlqNotEmpty-LOCAL
# goes to ALARM on its next evaluation, and its SNS action reaches the local alert inbox.
step "a poison message straight into the try-on DLQ (as its third failed delivery would)"
garmaxctl -o json outputs | python -c '
import json, sys, boto3
outputs = json.load(sys.stdin)["data"]["outputs"]
sqs = boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="local", aws_secret_access_key="local")
sent = sqs.send_message(QueueUrl=outputs["TryonDlqUrl"],
                        MessageBody=json.dumps({"sessionId": "poison", "demo": True}))
print("sent", sent["MessageId"], "to", outputs["TryonDlqUrl"])
' "$(garmaxctl -o json local status | python -c 'import json,sys; print(json.load(sys.stdin)["data"]["endpoint_url"])')"

# --- alarms and logs (issue 12): what happened on LOCAL, seen as on AWS ------------------
step "waiting for GarmaxAI-TryonDlqNotEmpty-LOCAL to go to ALARM (its next evaluation)"
for _ in $(seq 1 80); do
  if garmaxctl -o json alarms list --state ALARM | python -c '
import json, sys
names = [a["short_name"] for a in json.load(sys.stdin)["data"]["alarms"]]
sys.exit(0 if "TryonDlqNotEmpty" in names else 1)'; then break; fi
  sleep 5
done

step "garmaxctl alarms list"
garmaxctl alarms list

step "garmaxctl alarms history TryonDlqNotEmpty --since 1h (the transition and its SNS action)"
garmaxctl alarms history TryonDlqNotEmpty --since 1h

step "garmaxctl alarms test ApiErrorRate (ALARM, the notification in the inbox, back again)"
garmaxctl alarms test ApiErrorRate --timeout 90s

step "garmaxctl logs tail api tryon --since 15m (the demo's own try-on)"
garmaxctl logs tail api tryon --since 15m

step "garmaxctl logs errors --since 1h (Logs Insights on the emulator)"
garmaxctl logs errors --since 1h

# --- cost and budget (issue 12): what LOCAL really ran, priced --------------------------
step "garmaxctl cost report --since 1d (estimated from LOCAL usage; cached, \$0.01/request on AWS)"
garmaxctl cost report --since 1d

step "garmaxctl budget status (today's AI spend against the daily budgets, the breaker)"
garmaxctl budget status

step "garmaxctl audit list --since 1h (every change this demo made, hash-chained)"
garmaxctl audit list --since 1h

step "garmaxctl audit verify (the local chain, the stage's log group and its head in SSM)"
garmaxctl audit verify

step "garmaxctl local status -o json"
garmaxctl local status -o json
