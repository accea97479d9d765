"""API Gateway REST API ``GarmaxAi-{STAGE}`` in front of the Api and StripeWebhook functions.

Routes are the runtime's (runtime/api/*.py): GET ``/api/health``, GET
``/api/health/storage``, POST ``/api/tryon/sessions``, GET ``/api/tryon/sessions/{id}``,
POST ``/api/render``, GET ``/api/render/{id}`` -> Api; POST ``/api/webhooks/stripe``
(contract.STRIPE_WEBHOOK_PATH) -> StripeWebhook. Where ``features.cognito`` is on, a
Cognito user pool authorizer guards every route except health (probes) and the Stripe
webhook (Stripe signs its requests; the function verifies the signature).
Stage-wide throttling, JSON access logs to ``/aws/apigateway/GarmaxAi-{STAGE}``,
error-level execution logs, X-Ray where enabled.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from garmaxctl.shared import contract
from infra.components import acknowledge, pin_logical_id, removal_policy, retention_days


@dataclass(frozen=True)
class Route:
    path: str
    methods: tuple[str, ...]
    target: contract.Function
    public: bool = False  # no authorizer: health probes and the Stripe webhook


ROUTES: tuple[Route, ...] = (
    Route("/api/health", ("GET",), contract.Function.API, public=True),
    Route("/api/health/storage", ("GET",), contract.Function.API, public=True),
    Route("/api/tryon/sessions", ("POST",), contract.Function.API),
    Route("/api/tryon/sessions/{id}", ("GET",), contract.Function.API),
    Route("/api/render", ("POST",), contract.Function.API),
    Route("/api/render/{id}", ("GET",), contract.Function.API),
    Route(contract.STRIPE_WEBHOOK_PATH, ("POST",), contract.Function.STRIPE_WEBHOOK,
          public=True),
)

_PUBLIC_REASONS = {
    contract.Function.API: "Health probes (/api/health, /api/health/storage) are called by "
    "load balancers, uptime checks and garmaxctl health without a user token; they return "
    "status only.",
    contract.Function.STRIPE_WEBHOOK: "Stripe cannot present a Cognito token; the "
    "StripeWebhook function verifies every request's Stripe-Signature with the webhook "
    "secret from Parameter Store and rejects unsigned ones.",
}


class UserAuth(Construct):
    """Cognito user pool and the web client the frontend signs in with."""

    def __init__(self, scope: Construct, construct_id: str, *, retain: bool) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=True,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=12, require_lowercase=True, require_uppercase=True,
                require_digits=True, require_symbols=True,
                temp_password_validity=cdk.Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            deletion_protection=retain,
            removal_policy=removal_policy(retain),
        )
        pin_logical_id(self.user_pool, "UserPool")
        acknowledge(
            self.user_pool, "AwsSolutions-COG2",
            "Consumer sign-up: MFA is offered (TOTP, optional) rather than forced on every "
            "shopper; staff access to AWS is not through this pool.",
        )
        for rule in ("AwsSolutions-COG3", "AwsSolutions-COG8"):
            acknowledge(
                self.user_pool, rule,
                "Threat protection (advanced security) needs the Cognito Plus feature plan, "
                "a per-MAU cost not approved yet; API throttling and strong passwords apply.",
            )
        self.client = self.user_pool.add_client(
            "WebClient",
            auth_flows=cognito.AuthFlow(user_srp=True),
            generate_secret=False,
            prevent_user_existence_errors=True,
        )


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        functions: dict[contract.Function, lambda_.IFunction],
        user_pool: cognito.IUserPool | None,
        rate_limit: int,
        burst_limit: int,
        tracing: bool,
        usage_plan: bool,
        log_retention_days: int,
        retain_logs: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stage_name = contract.api_stage_name(stage)
        self.access_log_group = logs.LogGroup(
            self,
            "AccessLogs",
            log_group_name=contract.api_access_log_group(stage),
            retention=retention_days(log_retention_days),
            removal_policy=removal_policy(retain_logs),
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=contract.api_name(stage),
            description=f"GARMAX AI API ({stage})",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # API Gateway logs (access logs included) need the account's CloudWatch role.
            # It is account-wide: kept on delete, since another stage may share the account.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=self.stage_name,
                throttling_rate_limit=rate_limit,
                throttling_burst_limit=burst_limit,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                tracing_enabled=tracing,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False, http_method=True, ip=True, protocol=True,
                    request_time=True, resource_path=True, response_length=True,
                    status=True, user=True,
                ),
            ),
        )
        acknowledge(
            self.rest_api.node.find_child("CloudWatchRole"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level API Gateway logging role: AWS's managed policy is the "
            "documented one for it and grants only CloudWatch Logs writes.",
        )
        acknowledge(
            self.rest_api.deployment_stage, "AwsSolutions-APIG3",
            "No WAF web ACL yet: stage throttling limits abuse and all data routes need a "
            "Cognito token; a WAF (and its cost) is a separate decision.",
        )
        self.validator = self.rest_api.add_request_validator(
            "Validator", validate_request_parameters=True, validate_request_body=True
        )
        self.authorizer = (
            apigw.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=[user_pool])
            if user_pool is not None else None
        )
        integrations = {
            fn: apigw.LambdaIntegration(functions[fn], allow_test_invoke=False)
            for fn in {r.target for r in ROUTES}
        }
        self.methods: list[apigw.Method] = []
        for route in ROUTES:
            resource = self.rest_api.root.resource_for_path(route.path)
            for verb in route.methods:
                secured = self.authorizer is not None and not route.public
                method = resource.add_method(
                    verb,
                    integrations[route.target],
                    request_validator=self.validator,
                    authorization_type=(apigw.AuthorizationType.COGNITO if secured
                                        else apigw.AuthorizationType.NONE),
                    authorizer=self.authorizer if secured else None,
                )
                self.methods.append(method)
                if not secured:
                    reason = (_PUBLIC_REASONS[route.target] if route.public else
                              "LOCAL stage: no Cognito in the emulator; identity comes from "
                              "the X-Garmax-Dev-User header of the local gateway only.")
                    acknowledge(method, "AwsSolutions-APIG4", reason)
                    acknowledge(method, "AwsSolutions-COG4", reason)
        if usage_plan:
            self.rest_api.add_usage_plan(
                "UsagePlan",
                description=f"GARMAX AI default throttling ({stage})",
                throttle=apigw.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit),
                api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api,
                                                       stage=self.rest_api.deployment_stage)],
            )
        # The RestApi's own "Endpoint" output is dropped: ApiUrl (contract) replaces it.
        self.rest_api.node.try_remove_child("Endpoint")
        # Built from the literal stage name rather than a Ref to the Stage resource, so the
        # output exists wherever the RestApi does (moto provisions no AWS::ApiGateway::Stage).
        stack = cdk.Stack.of(self)
        self.url = (f"https://{self.rest_api.rest_api_id}.execute-api.{stack.region}."
                    f"{stack.url_suffix}/{self.stage_name}/")
