"""``verify``: each checklist item passing and failing (moto DEV, local TLS servers)."""

from __future__ import annotations

import json

import pytest

from garmaxctl.services import verify
from garmaxctl.services.verify import FAIL, PASS, SKIPPED, WARN
from garmaxctl.shared import contract

DEV = "DEV"
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")


def checklist(dev, **kwargs) -> verify.Checklist:
    from garmaxctl.services.health import prepare

    options = {"allow_spend": False, "token": None, "domains": [], "smoke_timeout": 5.0,
               "health_timeout": 5.0, **kwargs}
    return verify.Checklist(prepare(dev.target()), **options)


# --------------------------------------------------------------------------- TLS

def test_valid_certificate_passes_with_days_to_expiry(tls_server) -> None:
    server = tls_server(days_left=200)
    info = verify.check_certificate(server.host, server.port, cafile=server.cafile)
    assert info.verified and 199 <= info.days_left <= 200
    # certificate_row uses the system trust store: the test CA is passed through SSL_CERT_FILE
    # in the CLI test; here the row is built from the same checker with the CA.
    row = verify.certificate_row(server.spec, cafile=server.cafile)
    assert row.status == PASS and "days to expiry" in row.detail


def test_near_expiry_certificate_warns(tls_server) -> None:
    server = tls_server(days_left=10)
    row = verify.certificate_row(server.spec, cafile=server.cafile)
    assert row.status == WARN
    assert "expires in 10 day(s)" in row.detail and "under 30" in row.detail
    assert row.fix


def test_expired_certificate_fails_with_its_date(tls_server) -> None:
    server = tls_server(days_left=-3)
    info = verify.check_certificate(server.host, server.port, cafile=server.cafile)
    assert not info.verified and "expired" in info.verify_error
    row = verify.certificate_row(server.spec, cafile=server.cafile)
    assert row.status == FAIL and "expired 3 day(s) ago" in row.detail


def test_untrusted_certificate_fails(tls_server) -> None:
    server = tls_server(days_left=200)
    row = verify.certificate_row(server.spec)  # the system store does not know the test CA
    assert row.status == FAIL and "does not verify" in row.detail


def test_nothing_listening_fails_to_connect() -> None:
    from tests.conftest import free_port

    row = verify.certificate_row(f"127.0.0.1:{free_port()}")
    assert row.status == FAIL and "cannot connect" in row.detail


def test_domain_spec_parsing() -> None:
    assert verify.parse_domain("api.example.com") == ("api.example.com", 443)
    assert verify.parse_domain("localhost:8443") == ("localhost", 8443)


def test_tls_is_skipped_without_custom_domains(dev) -> None:
    rows = checklist(dev).tls()
    assert [r.status for r in rows] == [SKIPPED]


# --------------------------------------------------------------------------- DEV rows

def test_dev_security_and_monitoring_rows_pass(dev) -> None:
    items = checklist(dev)
    for method in (items.s3_public, items.s3_tls, items.secrets, items.iam, items.alarms,
                   items.budget, items.log_retention):
        rows = method()
        assert [r.status for r in rows] == [PASS], (method.__name__, rows)


def test_public_bucket_fails(dev) -> None:
    bucket = dev.outputs["UploadsBucketName"]
    dev.client("s3").put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False})
    [row] = checklist(dev).s3_public()
    assert row.status == FAIL and "Uploads: BlockPublicAcls" in row.detail and row.fix


def test_public_bucket_policy_fails(dev) -> None:
    bucket = dev.outputs["RendersBucketName"]
    dev.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    [public] = checklist(dev).s3_public()
    [tls] = checklist(dev).s3_tls()
    assert public.status == FAIL and "allows anyone" in public.detail
    assert tls.status == FAIL and "Renders" in tls.detail  # the TLS-only policy was replaced


def test_bucket_without_public_access_block_fails_on_a_real_stage(dev) -> None:
    dev.client("s3").delete_public_access_block(Bucket=dev.outputs["LogsBucketName"])
    [row] = checklist(dev).s3_public()
    assert row.status == FAIL and "Logs: no public access block" in row.detail


def test_secret_stored_as_plain_string_fails(dev) -> None:
    path = contract.PARAMS_BY_ENV_KEY["JWT_SECRET"].full_path(DEV)
    dev.client("ssm").put_parameter(Name=path, Value="oops", Type="String", Overwrite=True)
    [row] = checklist(dev).secrets()
    assert row.status == FAIL and "security/jwt-secret" in row.detail
    assert "oops" not in row.detail


def test_function_role_with_star_star_fails(dev) -> None:
    dev.client("iam").put_role_policy(
        RoleName=f"dev-{contract.Function.BILLING_PROCESSOR}-role", PolicyName="Admin",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    [row] = checklist(dev).iam()
    assert row.status == FAIL and "BillingProcessor (Admin)" in row.detail


def test_function_role_with_an_attached_star_star_policy_fails(dev) -> None:
    """An attached managed policy is read too (iam:GetPolicy, iam:GetPolicyVersion)."""
    iam = dev.client("iam")
    arn = iam.create_policy(PolicyName="EverythingEverywhere", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=f"dev-{contract.Function.API}-role", PolicyArn=arn)
    [row] = checklist(dev).iam()
    assert row.status == FAIL and "Api (EverythingEverywhere)" in row.detail


def test_missing_alarm_and_alarm_without_actions_fail(dev) -> None:
    cloudwatch = dev.client("cloudwatch")
    name = contract.alarm_name(contract.Alarm.QUEUE_DEPTH, DEV)
    cloudwatch.disable_alarm_actions(AlarmNames=[name])
    [row] = checklist(dev).alarms()
    assert row.status == FAIL and name in row.detail and "no actions" in row.detail
    cloudwatch.delete_alarms(AlarmNames=[name])
    [row] = checklist(dev).alarms()
    assert row.status == FAIL and "missing" in row.detail


def test_budget_without_notifications_fails(dev) -> None:
    budgets = dev.client("budgets")
    budget = contract.budget_name(DEV)
    for notification in budgets.describe_notifications_for_budget(
            AccountId="123456789012", BudgetName=budget)["Notifications"]:
        if notification["Threshold"] == 90:
            budgets.delete_notification(AccountId="123456789012", BudgetName=budget,
                                        Notification=notification)
    [row] = checklist(dev).budget()
    assert row.status == FAIL and "90%" in row.detail


def test_log_group_without_retention_fails(dev) -> None:
    group = contract.function_log_group(contract.Function.API, DEV)
    dev.client("logs").delete_retention_policy(logGroupName=group)
    [row] = checklist(dev).log_retention()
    assert row.status == FAIL and f"{group} never expires" in row.detail


def test_workflow_on_a_real_stage_needs_a_token_and_spend_needs_permission(dev) -> None:
    rows = checklist(dev).workflow()
    assert [r.status for r in rows] == [SKIPPED, SKIPPED]
    assert "--token" in rows[0].fix


def test_stripe_webhook_missing_secret_fails_on_a_real_stage(dev) -> None:
    dev.client("ssm").delete_parameter(
        Name=contract.PARAMS_BY_ENV_KEY["STRIPE_WEBHOOK_SECRET"].full_path(DEV))
    [row] = checklist(dev).stripe()
    assert row.status == FAIL and "params push" in row.fix


def test_stripe_signature_matches_the_stripe_sdk() -> None:
    import stripe

    payload = json.dumps({"id": "evt_1", "object": "event", "type": "x"})
    header = verify.stripe_signature(payload, "whsec_test")
    assert stripe.WebhookSignature.verify_header(payload, header, "whsec_test", 300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, header, "whsec_other", 300)


def test_one_broken_item_does_not_stop_the_others(dev, monkeypatch) -> None:
    items = checklist(dev)
    monkeypatch.setattr(items, "iam", lambda: (_ for _ in ()).throw(RuntimeError("denied")))
    rows = items.run()
    iam = [r for r in rows if r.name == "no function role allows * on *"]
    assert iam[0].status == FAIL and "could not check" in iam[0].detail
    assert any(r.name == "log groups have retention" and r.status == PASS for r in rows)


def test_the_smpl_placeholder_is_a_warning_with_the_fix(dev) -> None:
    """Issue 11 item 10: a real stage deploys a labelled placeholder until the SMPL image
    is configured; verify says so (it keeps ECS steady but fits nothing)."""
    (passed,) = checklist(dev).smpl_image()
    assert passed.status == PASS
    dev.set_output("SmplPlaceholder", "true")
    (row,) = checklist(dev).smpl_image()
    assert row.status == WARN and "placeholder" in row.detail
    assert "GARMAX_DEV_SMPL_IMAGE" in row.fix


def test_a_stack_without_the_placeholder_output_is_a_warning(dev) -> None:
    outputs = dict(dev.outputs)
    del outputs["SmplPlaceholder"]
    dev.outputs.clear()
    dev.outputs.update(outputs)
    dev.set_output("ApiUrl", outputs["ApiUrl"])
    (row,) = checklist(dev).smpl_image()
    assert row.status == WARN and "SmplPlaceholder" in row.detail


def test_missing_secrets_fail_on_a_real_stage(dev) -> None:
    """Issue 11 item 17: with none of the stage's required secrets stored, the row used to
    pass ("0 of N secrets stored, all SecureString")."""
    ssm = dev.client("ssm")
    for key in contract.required_env_keys(DEV):
        spec = contract.PARAMS_BY_ENV_KEY[key]
        if spec.secret:
            ssm.delete_parameter(Name=spec.full_path(DEV))
    [row] = checklist(dev).secrets()
    assert row.status == FAIL and "missing:" in row.detail and "params push" in row.fix


def test_the_secrets_row_is_skipped_on_local_with_the_reason() -> None:
    from garmaxctl.aws import AwsTarget
    from garmaxctl.shared.stages import get_stage_config
    from garmaxctl.stage.target import StageTarget

    target = StageTarget(AwsTarget(stage=get_stage_config("LOCAL")))
    options = {"allow_spend": False, "token": None, "domains": [], "smoke_timeout": 5.0,
               "health_timeout": 5.0}
    [row] = verify.Checklist(target, **options).secrets()
    assert row.status == SKIPPED and "needs no external secret" in row.detail


def test_stripe_webhook_passes_when_it_verifies_signatures(dev) -> None:
    [row] = checklist(dev).stripe()
    assert row.status == PASS and "bad signature: HTTP 400 invalid_signature" in row.detail


def test_a_webhook_that_accepts_a_bad_signature_fails(dev) -> None:
    """Issue 11 item 20: the "bad signature refused" half was never tested broken."""
    dev.api.verify_signatures = False
    [row] = checklist(dev).stripe()
    assert row.status == FAIL and "bad signature: HTTP 200" in row.detail
    assert "verify signatures" in row.fix
