"""``garmaxctl smoke``: the guide's QA deployment tests, run for real and cleaned up.

The guide's two ``curl`` calls (create a try-on session, request an ``sd`` render) become
a round trip through the stage's API: upload an avatar and a garment under the caller's
``users/{sub}/`` prefix, create a session, wait for its preview, request an ``sd`` render,
wait for the image. Afterwards — whatever happened — everything the run created is
removed: the uploaded and generated S3 objects, the session and render items, the smoke
user's quota counters (LOCAL; on real stages the daily counters are given back), and any
queue message that still names the session or render. Then each of those is looked up
again and anything still there is reported as left behind (a failure).

The caller: on LOCAL a fresh ``smoke-…`` user through the gateway's ``X-Garmax-Dev-User``
header; on real stages the Cognito ID token given with ``--token`` (its ``sub``). A render
spends money on real stages: ``--allow-spend`` is required there. The spend a render adds
to the budget ledger is not rewound: it happened.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from garmaxctl.result import CheckResult, Status
from garmaxctl.shared import contract
from garmaxctl.shared.errors import OperationError, UsageError
from garmaxctl.stage.http import HttpAnswer, http_call

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

PASS, FAIL, SKIPPED = Status.OK, Status.FAIL, Status.SKIPPED
DEFAULT_TIMEOUT_S = 90.0
POLL_S = 0.5
# A tiny JPEG-looking payload: the placeholder fitter only checks that the object exists.
FAKE_JPEG = b"\xff\xd8\xff\xe0 garmaxctl smoke test image \xff\xd9"


@dataclass
class Created:
    """Everything a run created, so that it can be removed and then looked for again."""

    objects: list[tuple[str, str]] = field(default_factory=list)  # (bucket, key)
    items: list[tuple[str, str]] = field(default_factory=list)  # (table, pk)
    quota_keys: list[str] = field(default_factory=list)  # pks in the Quotas table
    ids: list[str] = field(default_factory=list)  # session/render ids (queue messages)


@dataclass
class SmokeResult:
    stage: str
    user: str
    steps: list[CheckResult]
    session_id: str | None = None
    render_id: str | None = None
    created: dict[str, Any] = field(default_factory=dict)
    cleaned: list[str] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.left_behind and all(s.status != FAIL for s in self.steps)

    def step(self, name: str) -> CheckResult | None:
        return next((s for s in self.steps if s.name == name), None)


class SmokeFailed(Exception):
    """A step failed: the run stops and cleans up."""


def token_subject(token: str) -> str:
    """The ``sub`` claim of a JWT (not verified here: the API's authorizer verifies it)."""
    parts = token.split(".")
    if len(parts) < 2:
        raise UsageError("--token is not a JWT (expected a Cognito ID token)")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except ValueError:
        raise UsageError("--token is not a JWT (its payload is not JSON)") from None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    if not subject:
        raise UsageError("--token has no `sub` claim (use the Cognito ID token)")
    return str(subject)


@dataclass
class ApiClient:
    base_url: str  # ends with "/"
    user: str | None = None  # LOCAL: X-Garmax-Dev-User
    token: str | None = None  # real stages: the Cognito ID token
    timeout: float = 30.0

    def call(self, method: str, path: str, body: Any = None) -> HttpAnswer:
        headers = {"Content-Type": "application/json"}
        if self.user:
            headers[contract.DEV_USER_HEADER] = self.user
        if self.token:
            headers["Authorization"] = self.token
        data = json.dumps(body).encode() if body is not None else None
        return http_call(self.base_url + path.lstrip("/"), method=method, body=data,
                         headers=headers, timeout=self.timeout)


def _describe(answer: HttpAnswer) -> str:
    if answer.status is None:
        return f"no answer: {answer.error}"
    body = answer.body if isinstance(answer.body, dict) else {}
    code = body.get("code") or body.get("status") or ""
    message = body.get("message") or ""
    return f"HTTP {answer.status} {code} {message}".strip()[:300]


class SmokeRun:
    """One smoke run against a resolved stage."""

    def __init__(self, target: StageTarget, *, render: bool, token: str | None,
                 timeout: float = DEFAULT_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.target = target
        self.render = render
        self.timeout = timeout
        self.clock = clock
        self.run_id = uuid.uuid4().hex[:10]
        if self.target.is_local:
            self.user = f"smoke-{self.run_id}"
            self.token = None
        else:
            if not token:
                raise UsageError(f"smoke on {target.name} needs a caller: pass --token with "
                                 "a Cognito ID token (or set GARMAX_API_TOKEN)")
            self.user = token_subject(token)
            self.token = token
        self.created = Created()
        self.result = SmokeResult(stage=target.name, user=self.user, steps=[])

    # ------------------------------------------------------------------ helpers

    def out(self, key: contract.OutputKey) -> str:
        value = self.target.output(key)
        if not value:
            raise SmokeFailed(f"stack output {key} missing")
        return value

    def api(self) -> ApiClient:
        if not self.target.api_url:
            raise SmokeFailed(self.target.api_url_problem or "no API URL")
        return ApiClient(self.target.api_url, user=None if self.token else self.user,
                         token=self.token)

    def record(self, name: str, status: Status, detail: str, started: float | None = None) -> None:
        latency = round((self.clock() - started) * 1000, 1) if started is not None else None
        self.result.steps.append(CheckResult(name, status, detail, latency_ms=latency))

    def wait_for(self, path: str, done: set[str], failed: set[str], deadline: float
                 ) -> dict[str, Any]:
        api = self.api()
        last = ""
        while self.clock() < deadline:
            answer = api.call("GET", path)
            body = answer.body if isinstance(answer.body, dict) else {}
            if answer.status == 200 and body.get("status") in done:
                return body
            if answer.status == 200 and body.get("status") in failed:
                raise SmokeFailed(f"{body.get('status')}: {body.get('error') or 'no reason'}")
            if answer.status not in (200, None):
                raise SmokeFailed(_describe(answer))
            last = str(body.get("status") or _describe(answer))
            time.sleep(POLL_S)
        raise SmokeFailed(f"still {last or 'unknown'} after {self.timeout:g} s (are the "
                          "processors running? `garmaxctl health`)")

    def object_exists(self, bucket: str, key: str) -> bool:
        try:
            self.target.client("s3").head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    # ------------------------------------------------------------------ the run

    def run(self) -> SmokeResult:
        deadline = self.clock() + self.timeout
        try:
            session = self.tryon(deadline)
            if self.render:
                self.render_sd(session, deadline)
            else:
                self.record("render sd", SKIPPED, "rendering spends money on "
                            f"{self.target.name}: pass --allow-spend")
        except Exception as failure:  # SmokeFailed, or an AWS error: a failed step either way
            names = ("upload inputs", "create session", "preview ready", "request render",
                     "render completed")
            done = {s.name for s in self.result.steps}
            pending = next((n for n in names if n not in done), "smoke")
            detail = str(failure) if isinstance(failure, SmokeFailed) else \
                f"{type(failure).__name__}: {' '.join(str(failure).split())[:200]}"
            self.record(pending, FAIL, detail)
        finally:
            self.clean_up()
            self.look_for_leftovers()
        self.result.created = {
            "objects": [f"s3://{b}/{k}" for b, k in self.created.objects],
            "items": [f"{t}:{pk}" for t, pk in self.created.items],
            "quota_counters": list(self.created.quota_keys)}
        return self.result

    def tryon(self, deadline: float) -> dict[str, Any]:
        started = self.clock()
        uploads = self.out(contract.OutputKey.UPLOADS_BUCKET)
        self.out(contract.OutputKey.SESSIONS_TABLE)
        keys = {}
        for kind in ("avatar", "garment"):
            relative = f"smoke-{self.run_id}/{kind}.jpg"
            full = f"users/{self.user}/{relative}"
            self.created.objects.append((uploads, full))
            self.target.client("s3").put_object(Bucket=uploads, Key=full, Body=FAKE_JPEG,
                                             ContentType="image/jpeg")
            keys[kind] = relative
        self.record("upload inputs", PASS, f"2 objects under users/{self.user}/", started)

        started = self.clock()
        answer = self.api().call("POST", "api/tryon/sessions", {
            "avatarKey": keys["avatar"], "garmentKey": keys["garment"], "quality": "sd"})
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status != 201 or not body.get("sessionId"):
            raise SmokeFailed(_describe(answer))
        session_id = str(body["sessionId"])
        self.result.session_id = session_id
        self.created.ids.append(session_id)
        self.created.items.append((self.out(contract.OutputKey.SESSIONS_TABLE),
                                   f"SESSION#{session_id}"))
        self._note_quota("TRYON")
        self.created.objects.append((self.out(contract.OutputKey.RENDERS_BUCKET),
                                     f"previews/{self.user}/{session_id}.png"))
        self.record("create session", PASS, f"201 session {session_id}", started)

        started = self.clock()
        session = self.wait_for(f"api/tryon/sessions/{session_id}", {"preview_ready"},
                                {"failed"}, deadline)
        preview = session.get("previewKey")
        renders = self.out(contract.OutputKey.RENDERS_BUCKET)
        if not preview or not self.object_exists(renders, preview):
            raise SmokeFailed(f"preview_ready but no preview object {preview!r}")
        if (renders, preview) not in self.created.objects:
            self.created.objects.append((renders, preview))
        self.record("preview ready", PASS, f"preview_ready, s3://{renders}/{preview}", started)
        return session

    def render_sd(self, session: dict[str, Any], deadline: float) -> None:
        started = self.clock()
        answer = self.api().call("POST", "api/render",
                                 {"sessionId": session["sessionId"], "quality": "sd"})
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status != 202 or not body.get("renderId"):
            raise SmokeFailed(_describe(answer))
        render_id = str(body["renderId"])
        self.result.render_id = render_id
        self.created.ids.append(render_id)
        self.created.items.append((self.out(contract.OutputKey.RENDER_JOBS_TABLE),
                                   f"RENDER#{render_id}"))
        self._note_quota("RENDER")
        renders = self.out(contract.OutputKey.RENDERS_BUCKET)
        self.created.objects.append((renders, f"renders/{self.user}/{render_id}.png"))
        self.record("request render", PASS, f"202 render {render_id} (sd)", started)

        started = self.clock()
        job = self.wait_for(f"api/render/{render_id}", {"completed"}, {"failed"}, deadline)
        key = job.get("renderKey")
        if not key or not self.object_exists(renders, key):
            raise SmokeFailed(f"completed but no render object {key!r}")
        if (renders, key) not in self.created.objects:
            self.created.objects.append((renders, key))
        cost = job.get("costUsd")
        self.record("render completed", PASS,
                    f"{job.get('provider', '?')} render, ${cost} s3://{renders}/{key}", started)
        if cost:
            self.result.notes.append(f"the render's ${cost} stays in the budget ledger "
                                     "(spend is recorded, not rewound)")

    def _note_quota(self, kind: str) -> None:
        from runtime.domain.clock import day_of

        day = day_of(_utcnow())
        self.created.quota_keys.append(f"{kind}#{self.user}#{day}")
        if kind == "RENDER" and f"ACTIVE#{self.user}" not in self.created.quota_keys:
            self.created.quota_keys.append(f"ACTIVE#{self.user}")

    # ------------------------------------------------------------------ clean-up

    def queue_urls(self) -> list[str]:
        """The try-on and render DLQs, and on LOCAL the work queues too. On a real stage
        the work queues are never read: every receive adds to the receive count of other
        users' messages there and could push a backlog into the DLQ; a message smoke left
        there is consumed by the processor (which skips a session that is gone)."""
        urls = []
        for queue in (contract.Queue.TRYON, contract.Queue.RENDER):
            work, dlq = contract.QUEUE_OUTPUTS[queue]
            keys = (work, dlq) if self.target.is_local else (dlq,)
            urls += [url for url in map(self.target.output, keys) if url]
        return urls

    def messages_naming_us(self, *, delete: bool) -> list[str]:
        """Messages that name this run's ids (see ``queue_urls`` for where it looks)."""
        if not self.created.ids:
            return []
        sqs = self.target.client("sqs")
        found: list[str] = []
        for url in self.queue_urls():
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
            if not int(attributes.get("ApproximateNumberOfMessages", 0)):
                continue
            for _ in range(5):  # a few peeks: receive without hiding (visibility 0)
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                               VisibilityTimeout=0,
                                               WaitTimeSeconds=0).get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    if any(i in message.get("Body", "") for i in self.created.ids):
                        found.append(f"{url.rsplit('/', 1)[-1]}:{message['MessageId']}")
                        if delete:
                            sqs.delete_message(QueueUrl=url,
                                               ReceiptHandle=message["ReceiptHandle"])
        return sorted(set(found))

    def clean_up(self) -> None:
        cleaned = self.result.cleaned
        try:
            removed = self.messages_naming_us(delete=True)
            if removed:
                cleaned.append(f"{len(removed)} queue message(s)")
        except Exception as exc:
            cleaned.append(f"queue clean-up failed: {type(exc).__name__}")
        ddb = self.target.client("dynamodb")
        for table, pk in self.created.items:
            try:
                ddb.delete_item(TableName=table, Key={"pk": {"S": pk}})
                cleaned.append(f"item {pk}")
            except Exception as exc:
                cleaned.append(f"item {pk}: {type(exc).__name__}")
        quotas = self.target.output(contract.OutputKey.QUOTAS_TABLE)
        if quotas:
            for pk in self.created.quota_keys:
                try:
                    if self.target.is_local:  # the run's own synthetic user: remove its counters
                        ddb.delete_item(TableName=quotas, Key={"pk": {"S": pk}})
                        cleaned.append(f"quota counter {pk}")
                    elif not pk.startswith("ACTIVE#"):  # a real user: give the slot back
                        ddb.update_item(TableName=quotas, Key={"pk": {"S": pk}},
                                        UpdateExpression="SET used = used - :one",
                                        ConditionExpression="used >= :one",
                                        ExpressionAttributeValues={":one": {"N": "1"}})
                        cleaned.append(f"quota slot given back: {pk}")
                except Exception as exc:
                    cleaned.append(f"quota counter {pk}: {type(exc).__name__}")
        s3 = self.target.client("s3")
        for bucket, key in self.created.objects:
            try:
                s3.delete_object(Bucket=bucket, Key=key)
                cleaned.append(f"s3://{bucket}/{key}")
            except Exception as exc:
                cleaned.append(f"s3://{bucket}/{key}: {type(exc).__name__}")

    def look_for_leftovers(self) -> None:
        left = self.result.left_behind
        for bucket, key in self.created.objects:
            try:
                if self.object_exists(bucket, key):
                    left.append(f"s3://{bucket}/{key}")
            except Exception as exc:
                left.append(f"s3://{bucket}/{key} (cannot tell: {type(exc).__name__})")
        ddb = self.target.client("dynamodb")

        def item_left(table: str, pk: str, label: str) -> None:
            try:
                if ddb.get_item(TableName=table, Key={"pk": {"S": pk}},
                                ConsistentRead=True).get("Item"):
                    left.append(f"{label} {pk}")
            except Exception as exc:
                left.append(f"{label} {pk} (cannot tell: {type(exc).__name__})")

        for table, pk in self.created.items:
            item_left(table, pk, "item")
        quotas = self.target.output(contract.OutputKey.QUOTAS_TABLE)
        if quotas and self.target.is_local:
            for pk in self.created.quota_keys:
                item_left(quotas, pk, "quota counter")
        try:
            left += [f"message {m}" for m in self.messages_naming_us(delete=False)]
        except Exception as exc:
            left.append(f"messages (cannot tell: {type(exc).__name__})")


def _utcnow() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def run_smoke(target: StageTarget, *, allow_spend: bool = False, token: str | None = None,
              timeout: float = DEFAULT_TIMEOUT_S) -> SmokeResult:
    """The QA deployment tests with clean-up. LOCAL renders with the offline provider; a
    real stage renders only with ``allow_spend``. Refused while the stage is idle."""
    if target.idle:
        raise OperationError(f"stage {target.name} is idle: its processors are paused; run "
                             "`garmaxctl idle up` first", code="stage_idle")
    render = target.is_local or allow_spend
    return SmokeRun(target, render=render, token=token, timeout=timeout).run()
