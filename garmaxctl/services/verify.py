"""``garmaxctl verify``: the guide's post-deployment checklist, one row per item.

Each row is ✓ (pass), ✗ (fail), warn or skipped, with the detail and the fix. Rows that
cannot apply to a stage (no custom domain, no Budgets on LOCAL, renders that would spend
money without ``--allow-spend``) are "skipped" with the reason, never failures: a freshly
deployed LOCAL stack passes. The rows are independent and run concurrently.

Functional: health; try-on workflow end to end; AI render end to end (``smoke``'s round
trip, cleaned up); the Stripe webhook accepts a correctly signed test event (of a type the
platform ignores, so nothing is billed) and refuses a bad signature.
Security: TLS certificate of each custom domain (valid, days to expiry, warn under 30);
S3 buckets block public access and deny insecure transport; secrets are SecureString;
no function role allows ``*`` on ``*``.
Monitoring: alarms exist and have actions; budget notifications; log group retention.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
import hmac
import json
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from garmaxctl import redact
from garmaxctl.aws import describe_error
from garmaxctl.result import PASS_WORDS, CheckResult, Status, count
from garmaxctl.services.health import prepare, run_health
from garmaxctl.shared import contract
from garmaxctl.stage.http import http_call

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

PASS, FAIL, WARN, SKIPPED = Status.OK, Status.FAIL, Status.WARN, Status.SKIPPED
CERT_WARN_DAYS = 30
TLS_TIMEOUT_S = 10.0


def row(item: str, section: str, status: Status, detail: str = "",
        fix: str = "") -> CheckResult:
    """One checklist item; ``section`` is functional | security | monitoring."""
    return CheckResult(item, status, detail, fix, group=section)


@dataclass
class VerifyReport:
    stage: str
    rows: list[CheckResult]
    summary: dict[str, int] = field(default_factory=dict)
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return not any(r.status == FAIL for r in self.rows)


def summarise(rows: list[CheckResult]) -> dict[str, int]:
    summary = count(rows, PASS_WORDS, (PASS, FAIL, WARN, SKIPPED))
    summary["total"] = len(rows)
    return summary


# --------------------------------------------------------------------------- TLS

@dataclass
class CertInfo:
    host: str
    port: int
    verified: bool
    verify_error: str = ""
    subject: str = ""
    issuer: str = ""
    not_after: dt.datetime | None = None
    days_left: float | None = None
    error: str = ""  # could not connect at all


def parse_domain(spec: str) -> tuple[str, int]:
    host, _, port = spec.strip().rpartition(":") if ":" in spec else (spec.strip(), "", "")
    return (host or spec.strip()), int(port) if port else 443


def _der(host: str, port: int, context: ssl.SSLContext, server_name: str,
         timeout: float) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as sock, \
            context.wrap_socket(sock, server_hostname=server_name) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("the server sent no certificate")
    return der


def check_certificate(host: str, port: int = 443, *, server_name: str | None = None,
                      cafile: str | None = None, timeout: float = TLS_TIMEOUT_S,
                      now: dt.datetime | None = None) -> CertInfo:
    """Connect, verify the chain and the name, and read the certificate's expiry. A
    certificate that does not verify is read again without verification, to report why
    (expired, wrong name, unknown issuer) with its dates."""
    from cryptography import x509

    name = server_name or host
    info = CertInfo(host=host, port=port, verified=False)
    try:
        der = _der(host, port, ssl.create_default_context(cafile=cafile), name, timeout)
        info.verified = True
    except ssl.SSLCertVerificationError as exc:
        info.verify_error = str(exc.verify_message or exc.reason or exc)
        unverified = ssl.create_default_context()
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        try:
            der = _der(host, port, unverified, name, timeout)
        except (OSError, ssl.SSLError) as again:
            info.error = f"{type(again).__name__}: {again}"
            return info
    except (OSError, ssl.SSLError) as exc:
        info.error = f"{type(exc).__name__}: {exc}"[:200]
        return info
    certificate = x509.load_der_x509_certificate(der)
    info.subject = certificate.subject.rfc4514_string()
    info.issuer = certificate.issuer.rfc4514_string()
    info.not_after = certificate.not_valid_after_utc
    moment = now or dt.datetime.now(dt.UTC)
    info.days_left = round((info.not_after - moment).total_seconds() / 86400, 1)
    return info


def certificate_row(spec: str, *, cafile: str | None = None,
                    now: dt.datetime | None = None) -> CheckResult:
    host, port = parse_domain(spec)
    item = f"TLS certificate {host}" + ("" if port == 443 else f":{port}")
    fix = "renew the certificate (ACM renews DNS-validated ones: check the CNAME record)"
    info = check_certificate(host, port, cafile=cafile, now=now)
    if info.error:
        return row(item, "security", FAIL, f"cannot connect: {info.error}",
                   "check DNS and that the domain serves HTTPS")
    days = info.days_left if info.days_left is not None else 0.0
    expiry = info.not_after.date().isoformat() if info.not_after else "?"
    if days < 0:
        return row(item, "security", FAIL, f"expired {abs(days):.0f} day(s) ago ({expiry})",
                   fix)
    if not info.verified:
        return row(item, "security", FAIL, f"does not verify: {info.verify_error}",
                   "serve a certificate for this name from a trusted CA")
    if days < CERT_WARN_DAYS:
        return row(item, "security", WARN, f"valid, expires in {days:.0f} day(s) ({expiry}): "
                   f"under {CERT_WARN_DAYS}", fix)
    return row(item, "security", PASS, f"valid, {days:.0f} days to expiry ({expiry})")


# --------------------------------------------------------------------------- rows

class Checklist:
    def __init__(self, target: StageTarget, *, allow_spend: bool, token: str | None,
                 domains: list[str], smoke_timeout: float, health_timeout: float) -> None:
        self.target = target
        self.stage = target.name
        self.allow_spend = allow_spend
        self.token = token
        self.domains = domains
        self.smoke_timeout = smoke_timeout
        self.health_timeout = health_timeout

    # -- functional ------------------------------------------------------------------

    def health(self) -> list[CheckResult]:
        report = run_health(self.target, timeout=self.health_timeout)
        if report.ok:
            idle = ", idle" if report.idle else ""
            return [row("API health checks pass", "functional", PASS,
                        f"{report.status}: {len(report.checks)} checks{idle}")]
        problems = "; ".join(f"{c.name}: {c.detail}" for c in report.problems())
        return [row("API health checks pass", "functional", FAIL,
                    f"{report.status}: {problems}"[:400],
                    "run `garmaxctl health` and fix the failing checks")]

    def workflow(self) -> list[CheckResult]:
        from garmaxctl.services.smoke import SmokeRun

        tryon_item, render_item = "try-on workflow end to end", "AI render end to end"
        if self.target.idle:
            reason = "the stage is idle (processors paused)"
            return [row(tryon_item, "functional", SKIPPED, reason, "`garmaxctl idle up`"),
                    row(render_item, "functional", SKIPPED, reason, "`garmaxctl idle up`")]
        if not self.target.is_local and not self.token:
            reason = "needs a caller on a real stage"
            fix = "pass --token with a Cognito ID token (or set GARMAX_API_TOKEN)"
            return [row(tryon_item, "functional", SKIPPED, reason, fix),
                    row(render_item, "functional", SKIPPED, reason, fix)]
        render = self.target.is_local or self.allow_spend
        result = SmokeRun(self.target, render=render, token=self.token,
                          timeout=self.smoke_timeout).run()
        tryon_steps = [s for s in result.steps if s.name in
                       ("upload inputs", "create session", "preview ready")]
        render_steps = [s for s in result.steps if s.name in
                        ("request render", "render completed", "render sd")]
        rows: list[CheckResult] = []
        failed = [s for s in tryon_steps if s.status == FAIL]
        if failed or len(tryon_steps) < 3:
            detail = "; ".join(f"{s.name}: {s.detail}" for s in failed) or "did not finish"
            rows.append(row(tryon_item, "functional", FAIL, detail,
                            "`garmaxctl smoke` shows each step; `garmaxctl logs` the errors"))
        else:
            rows.append(row(tryon_item, "functional", PASS,
                            f"session {result.session_id}: preview ready"))
        if not render:
            rows.append(row(render_item, "functional", SKIPPED,
                            f"a render spends money on {self.stage}",
                            "pass --allow-spend to render one sd image"))
        elif failed:
            rows.append(row(render_item, "functional", SKIPPED, "the try-on workflow failed"))
        else:
            bad = [s for s in render_steps if s.status == FAIL]
            if bad or len(render_steps) < 2:
                detail = "; ".join(f"{s.name}: {s.detail}" for s in bad) or "did not finish"
                rows.append(row(render_item, "functional", FAIL, detail,
                                "check the render processor: `garmaxctl health`, its logs"))
            else:
                done = render_steps[-1].detail
                rows.append(row(render_item, "functional", PASS,
                                f"render {result.render_id}: {done.split(' s3://')[0]}"))
        if result.left_behind:
            rows.append(row("workflow test data cleaned up", "functional", FAIL,
                            "left behind: " + ", ".join(result.left_behind)[:300],
                            "delete them by hand; report the bug"))
        return rows

    def stripe(self) -> list[CheckResult]:
        item = "Stripe webhook: signed event accepted, bad signature refused"
        path = contract.PARAMS_BY_ENV_KEY["STRIPE_WEBHOOK_SECRET"].full_path(self.stage)
        try:
            secret = self.target.client("ssm").get_parameter(
                Name=path, WithDecryption=True)["Parameter"]["Value"]
            redact.register(secret)  # it signs a request below: never in any output
        except Exception as exc:
            if "ParameterNotFound" not in describe_error(exc).code:
                raise
            fix = "set STRIPE_WEBHOOK_SECRET in .env and run `garmaxctl params push`"
            if self.target.is_local:
                return [row(item, "functional", SKIPPED,
                            f"no webhook secret at {path} (LOCAL requires none)", fix)]
            return [row(item, "functional", FAIL, f"no webhook secret at {path}", fix)]
        if not self.target.api_url:
            return [row(item, "functional", FAIL, self.target.api_url_problem or "no API URL")]
        url = self.target.api_url + contract.STRIPE_WEBHOOK_PATH.lstrip("/")
        event_id = f"evt_garmaxctl_verify_{uuid.uuid4().hex[:16]}"
        # A type the platform does not handle: verified, acknowledged, never billed.
        payload = json.dumps({"id": event_id, "object": "event",
                              "type": "garmaxctl.verify.ping", "created": int(time.time()),
                              "livemode": False, "data": {"object": {}}})
        good = http_call(url, method="POST", body=payload.encode(),
                         headers={"Content-Type": "application/json",
                                  "Stripe-Signature": stripe_signature(payload, secret)})
        bad = http_call(url, method="POST", body=payload.encode(),
                        headers={"Content-Type": "application/json",
                                 "Stripe-Signature": stripe_signature(payload, "whsec_wrong")})
        good_body = good.body if isinstance(good.body, dict) else {}
        bad_body = bad.body if isinstance(bad.body, dict) else {}
        accepted = good.status == 200 and good_body.get("id") == event_id
        refused = bad.status == 400 and bad_body.get("code") == "invalid_signature"
        detail = (f"signed: HTTP {good.status} {good_body.get('code', '')}".rstrip()
                  + f"; bad signature: HTTP {bad.status} {bad_body.get('code', '')}".rstrip())
        if accepted and refused:
            return [row(item, "functional", PASS, detail)]
        fix = ("the webhook secret in Parameter Store must match Stripe's endpoint secret"
               if not accepted else "the webhook must verify signatures (stripe SDK)")
        return [row(item, "functional", FAIL, detail, fix)]

    def smpl_image(self) -> list[CheckResult]:
        item = "SMPL processor runs a real image"
        if not self.target.features.ecs:
            return [row(item, "functional", SKIPPED, f"stage {self.stage} has no ECS service")]
        fix = (f"set GARMAX_{self.stage}_SMPL_IMAGE to the published SMPL image and "
               f"`garmaxctl -s {self.stage.lower()} deploy`")
        placeholder = self.target.smpl_placeholder()
        if placeholder is None:
            return [row(item, "functional", WARN, f"stack {self.target.stack} has no "
                        f"{contract.OutputKey.SMPL_PLACEHOLDER} output (deployed before it)",
                        f"`garmaxctl -s {self.stage.lower()} deploy`")]
        if placeholder:
            return [row(item, "functional", WARN, "the labelled placeholder image is "
                        "deployed: it keeps the service steady but fits nothing", fix)]
        return [row(item, "functional", PASS, "a configured image is deployed")]

    # -- security --------------------------------------------------------------------

    def tls(self) -> list[CheckResult]:
        domains = list(self.target.config.custom_domains) + [
            d for d in self.domains if d not in self.target.config.custom_domains]
        if not domains:
            return [row("TLS certificates of custom domains", "security", SKIPPED,
                        f"stage {self.stage} has no custom domain",
                        "pass --domain HOST[:PORT] to check one")]
        return [certificate_row(d) for d in domains]

    def _policy(self, bucket: str) -> dict[str, Any] | None:
        try:
            text = self.target.client("s3").get_bucket_policy(Bucket=bucket)["Policy"]
        except Exception as exc:
            if describe_error(exc).code in ("NoSuchBucketPolicy",):
                return None
            raise
        return json.loads(text)

    def _buckets(self) -> list[tuple[str, str]]:
        return [(b.name, self.target.outputs()[str(b.output)]) for b in contract.BUCKETS
                if self.target.output(b.output)]

    def s3_public(self) -> list[CheckResult]:
        item = "S3 buckets block public access"
        s3 = self.target.client("s3")
        problems: list[str] = []
        unapplied: list[str] = []
        for name, bucket in self._buckets():
            try:
                config = s3.get_public_access_block(Bucket=bucket)[
                    "PublicAccessBlockConfiguration"]
                off = [k for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                                   "RestrictPublicBuckets") if not config.get(k)]
                if off:
                    problems.append(f"{name}: {', '.join(off)} off")
            except Exception as exc:
                if describe_error(exc).code != "NoSuchPublicAccessBlockConfiguration":
                    raise
                if self.target.is_local:
                    unapplied.append(name)
                else:
                    problems.append(f"{name}: no public access block")
            policy = self._policy(bucket) or {}
            for statement in policy.get("Statement", []):
                if statement.get("Effect") == "Allow" and _is_public(statement.get("Principal")) \
                        and not statement.get("Condition"):
                    problems.append(f"{name}: bucket policy allows anyone "
                                    f"{statement.get('Action')}")
            acl = s3.get_bucket_acl(Bucket=bucket)
            for grant in acl.get("Grants", []):
                uri = grant.get("Grantee", {}).get("URI", "")
                if uri.endswith(("/global/AllUsers", "/global/AuthenticatedUsers")):
                    problems.append(f"{name}: ACL grants {grant.get('Permission')} to "
                                    f"{uri.rsplit('/', 1)[-1]}")
        fix = "block public access on the bucket (redeploy: the stack sets BlockPublicAccess)"
        if problems:
            return [row(item, "security", FAIL, "; ".join(problems)[:400], fix)]
        if unapplied and len(unapplied) == len(self._buckets()):
            return [row(item, "security", SKIPPED,
                        "the emulator does not apply a bucket's PublicAccessBlockConfiguration "
                        "(checked on real stages); no public policy or ACL found")]
        return [row(item, "security", PASS,
                    f"{len(self._buckets())} buckets: public access blocked, no public grant")]

    def s3_tls(self) -> list[CheckResult]:
        item = "S3 buckets deny insecure transport"
        missing = [name for name, bucket in self._buckets()
                   if not _denies_insecure_transport(self._policy(bucket))]
        if missing:
            return [row(item, "security", FAIL, "no TLS-only policy: " + ", ".join(missing),
                        "redeploy (the stack adds aws:SecureTransport=false Deny)")]
        return [row(item, "security", PASS,
                    f"{len(self._buckets())} buckets deny aws:SecureTransport=false")]

    def secrets(self) -> list[CheckResult]:
        item = "secrets are SecureString"
        required = {contract.PARAMS_BY_ENV_KEY[k].full_path(self.stage)
                    for k in contract.required_env_keys(self.stage)
                    if contract.PARAMS_BY_ENV_KEY[k].secret}
        if not required:
            return [row(item, "security", SKIPPED,
                        f"stage {self.stage} needs no external secret")]
        prefix = contract.params_prefix(self.stage)
        secret_paths = {p.full_path(self.stage) for p in contract.PARAMETERS if p.secret}
        ssm = self.target.client("ssm")
        stored: dict[str, str] = {}
        for page in ssm.get_paginator("describe_parameters").paginate(
                ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [prefix]}]):
            stored.update({p["Name"]: p["Type"] for p in page.get("Parameters", [])})
        present = {name: kind for name, kind in stored.items() if name in secret_paths}
        plain = sorted(name.removeprefix(prefix) for name, kind in present.items()
                       if kind != "SecureString")
        if plain:
            return [row(item, "security", FAIL, "stored in plain text: " + ", ".join(plain),
                        "push them again with `garmaxctl params push` (SecureString, KMS)")]
        missing = sorted(p.removeprefix(prefix) for p in required if p not in stored)
        if missing:
            return [row(item, "security", FAIL, "missing: " + ", ".join(missing),
                        f"set them in .env and `garmaxctl -s {self.stage.lower()} params "
                        "push`")]
        return [row(item, "security", PASS,
                    f"{len(present)} of {len(secret_paths)} secrets stored, all SecureString")]

    def iam(self) -> list[CheckResult]:
        item = "no function role allows * on *"
        iam, lambda_client = self.target.client("iam"), self.target.client("lambda")
        offenders: list[str] = []
        for function in contract.Function:
            name = contract.function_name(function, self.stage)
            role = lambda_client.get_function_configuration(FunctionName=name)["Role"]
            role_name = role.rsplit("/", 1)[-1]
            documents: list[tuple[str, Any]] = []
            for policy in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
                documents.append((policy, iam.get_role_policy(
                    RoleName=role_name, PolicyName=policy)["PolicyDocument"]))
            for attached in iam.list_attached_role_policies(
                    RoleName=role_name)["AttachedPolicies"]:
                arn = attached["PolicyArn"]
                version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
                documents.append((attached["PolicyName"], iam.get_policy_version(
                    PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]))
            for policy_name, document in documents:
                if isinstance(document, str):
                    document = json.loads(document)
                if _allows_everything(document):
                    offenders.append(f"{function} ({policy_name})")
        if offenders:
            return [row(item, "security", FAIL, "allows *:* — " + ", ".join(offenders),
                        "grant only what the function calls (docs/runtime.md)")]
        return [row(item, "security", PASS, f"{len(contract.Function)} function roles checked")]

    # -- monitoring ------------------------------------------------------------------

    def alarms(self) -> list[CheckResult]:
        item = "CloudWatch alarms exist and have actions"
        expected = [contract.alarm_name(a, self.stage) for a in contract.Alarm
                    if a is not contract.Alarm.ACTIVITY]  # its actions start disabled
        found: dict[str, dict[str, Any]] = {}
        cloudwatch = self.target.client("cloudwatch")
        for page in cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmNamePrefix="GarmaxAI-"):
            found.update({a["AlarmName"]: a for a in page.get("MetricAlarms", [])})
        missing = [n for n in expected if n not in found]
        silent = [n for n in expected if n in found
                  and (not found[n].get("AlarmActions") or not found[n].get("ActionsEnabled"))]
        if missing:
            return [row(item, "monitoring", FAIL, "missing: " + ", ".join(missing),
                        "redeploy the stack (`garmaxctl deploy`)")]
        if silent and not self.target.idle:
            return [row(item, "monitoring", FAIL, "no actions: " + ", ".join(silent),
                        "enable their actions (`aws cloudwatch enable-alarm-actions`) or "
                        "redeploy")]
        note = f" ({len(silent)} with actions paused while idle)" if silent else ""
        return [row(item, "monitoring", PASS,
                    f"{len(expected)} alarms with actions{note}")]

    def budget(self) -> list[CheckResult]:
        item = "budget notifications"
        if not self.target.config.features.budgets:
            return [row(item, "monitoring", SKIPPED,
                        f"stage {self.stage} has no AWS Budgets budget (the runtime's "
                        "breaker still enforces the daily budget)")]
        name = (self.target.output(contract.OutputKey.BUDGET_NAME)
                or contract.budget_name(self.stage))
        account = self.target.aws.caller_identity()["account"]
        budgets = self.target.client("budgets")
        try:
            notifications = budgets.describe_notifications_for_budget(
                AccountId=account, BudgetName=name)["Notifications"]
        except Exception as exc:
            return [row(item, "monitoring", FAIL, f"budget {name}: {describe_error(exc).code}",
                        "redeploy the stack (it creates the daily budget)")]
        thresholds = set()
        unread = ""
        for notification in notifications:
            try:
                subscribers = budgets.describe_subscribers_for_notification(
                    AccountId=account, BudgetName=name,
                    Notification=notification)["Subscribers"]
            except Exception as exc:  # e.g. not implemented by an emulator: count it
                unread = f" (subscribers not readable: {describe_error(exc).code})"
                subscribers = [None]
            if subscribers:
                thresholds.add(round(float(notification["Threshold"])))
        missing = sorted({80, 90, 100} - thresholds)
        if missing:
            return [row(item, "monitoring", FAIL,
                        f"budget {name}: no notification with subscribers at "
                        + ", ".join(f"{m}%" for m in missing),
                        "set ALERT_EMAIL and redeploy")]
        return [row(item, "monitoring", PASS,
                    f"budget {name}: notifications at 80/90/100% with subscribers{unread}")]

    def log_retention(self) -> list[CheckResult]:
        item = "log groups have retention"
        logs = self.target.client("logs")
        groups = [contract.function_log_group(f, self.stage) for f in contract.Function]
        groups.append(contract.api_access_log_group(self.stage))
        problems: list[str] = []
        days: set[int] = set()
        for group in groups:
            found = [g for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
                     if g["logGroupName"] == group]
            if not found:
                problems.append(f"{group} missing")
            elif not found[0].get("retentionInDays"):
                problems.append(f"{group} never expires")
            else:
                days.add(int(found[0]["retentionInDays"]))
        if problems:
            return [row(item, "monitoring", FAIL, "; ".join(problems),
                        "redeploy (each function has an explicit log group with retention)")]
        return [row(item, "monitoring", PASS, f"{len(groups)} groups, retention "
                    + "/".join(str(d) for d in sorted(days)) + " days")]

    # -- running ---------------------------------------------------------------------

    def items(self) -> list[tuple[str, str, Callable[[], list[CheckResult]]]]:
        return [
            ("API health checks pass", "functional", self.health),
            ("try-on workflow end to end", "functional", self.workflow),
            ("Stripe webhook", "functional", self.stripe),
            ("SMPL processor runs a real image", "functional", self.smpl_image),
            ("TLS certificates", "security", self.tls),
            ("S3 buckets block public access", "security", self.s3_public),
            ("S3 buckets deny insecure transport", "security", self.s3_tls),
            ("secrets are SecureString", "security", self.secrets),
            ("no function role allows * on *", "security", self.iam),
            ("CloudWatch alarms exist and have actions", "monitoring", self.alarms),
            ("budget notifications", "monitoring", self.budget),
            ("log groups have retention", "monitoring", self.log_retention),
        ]

    def run(self) -> list[CheckResult]:
        items = self.items()
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(items),
                                                   thread_name_prefix="verify") as pool:
            futures = [pool.submit(fn) for _, _, fn in items]
            rows: list[CheckResult] = []
            for (item, section, _), future in zip(items, futures, strict=True):
                try:
                    rows += future.result()
                except Exception as exc:  # one item's error is its row, not the report's
                    from garmaxctl.shared.errors import GarmaxError

                    reason = exc.one_line() if isinstance(exc, GarmaxError) else \
                        describe_error(exc).line()
                    rows.append(row(item, section, FAIL, f"could not check: {reason}",
                                    "rerun with --verbose; check permissions"))
        return rows


def _is_public(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        value = principal.get("AWS")
        return value == "*" or (isinstance(value, list) and "*" in value)
    return False


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _denies_insecure_transport(policy: dict[str, Any] | None) -> bool:
    for statement in (policy or {}).get("Statement", []):
        condition = statement.get("Condition", {}).get("Bool", {})
        secure = condition.get("aws:SecureTransport")
        actions = _as_list(statement.get("Action", []))
        if statement.get("Effect") == "Deny" and str(secure).lower() == "false" and \
                any(a in ("s3:*", "*") for a in actions):
            return True
    return False


def _allows_everything(document: dict[str, Any]) -> bool:
    for statement in _as_list(document.get("Statement", [])):
        if statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action", []))
        resources = _as_list(statement.get("Resource", []))
        if any(a in ("*", "*:*") for a in actions) and "*" in resources:
            return True
    return False


def stripe_signature(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header as Stripe computes it (v1: HMAC-SHA256 of
    ``{t}.{payload}`` with the endpoint secret)."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.{payload}".encode(), hashlib.sha256)
    return f"t={moment},v1={digest.hexdigest()}"


def run_verify(target: StageTarget, *, allow_spend: bool = False, token: str | None = None,
               domains: list[str] | None = None, smoke_timeout: float = 90.0,
               health_timeout: float = 10.0) -> VerifyReport:
    started = time.perf_counter()
    prepare(target)
    rows = Checklist(target, allow_spend=allow_spend, token=token, domains=domains or [],
                     smoke_timeout=smoke_timeout, health_timeout=health_timeout).run()
    return VerifyReport(stage=target.name, rows=rows, summary=summarise(rows),
                        duration_ms=round((time.perf_counter() - started) * 1000, 1))
