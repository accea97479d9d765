"""S3: the four data buckets and the access-logs bucket.

Every bucket: SSE-S3, all public access blocked, a TLS-only bucket policy, server access
logs to the logs bucket (except the logs bucket itself), and the guide's lifecycle: 30 d
Standard-IA, 90 d Glacier, 365 d Deep Archive, expiry after 2555 d (7 years) for data that
is kept long; ``temp/`` and ``processing/`` prefixes expire after 1 and 7 days.
No ``auto_delete_objects`` (it needs a custom resource, which the emulator cannot run).
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

from garmaxctl.shared import contract
from infra.components import acknowledge, pin_logical_id, removal_policy

LONG_KEPT_EXPIRY_DAYS = 2555
TEMP_PREFIX_EXPIRY_DAYS = 1
PROCESSING_PREFIX_EXPIRY_DAYS = 7


@dataclass(frozen=True)
class BucketPolicy:
    long_kept: bool  # the 30/90/365/2555-day rule
    short_prefixes: tuple[tuple[str, int], ...] = ()  # (prefix, expiry days)


_SHORT = (("temp/", TEMP_PREFIX_EXPIRY_DAYS), ("processing/", PROCESSING_PREFIX_EXPIRY_DAYS))

# Per bucket (contract.BUCKETS names): what is kept long, what is scratch.
LIFECYCLE: dict[str, BucketPolicy] = {
    "Uploads": BucketPolicy(long_kept=True, short_prefixes=_SHORT),
    "Renders": BucketPolicy(long_kept=True, short_prefixes=_SHORT),
    "Guidance": BucketPolicy(long_kept=True),
    "SmplAssets": BucketPolicy(long_kept=True, short_prefixes=_SHORT),
    "Logs": BucketPolicy(long_kept=True),
}


def bucket_logical_id(name: str) -> str:
    return f"{name}Bucket"


def _lifecycle_rules(policy: BucketPolicy) -> list[s3.LifecycleRule]:
    rules = [
        s3.LifecycleRule(
            id="abort-incomplete-uploads",
            abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
        )
    ]
    if policy.long_kept:
        rules.append(
            s3.LifecycleRule(
                id="long-kept",
                transitions=[
                    s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                                  transition_after=cdk.Duration.days(30)),
                    s3.Transition(storage_class=s3.StorageClass.GLACIER,
                                  transition_after=cdk.Duration.days(90)),
                    s3.Transition(storage_class=s3.StorageClass.DEEP_ARCHIVE,
                                  transition_after=cdk.Duration.days(365)),
                ],
                expiration=cdk.Duration.days(LONG_KEPT_EXPIRY_DAYS),
                noncurrent_version_expiration=cdk.Duration.days(30),
            )
        )
    for prefix, days in policy.short_prefixes:
        rules.append(
            s3.LifecycleRule(
                id=f"expire-{prefix.rstrip('/')}",
                prefix=prefix,
                expiration=cdk.Duration.days(days),
                noncurrent_version_expiration=cdk.Duration.days(1),
            )
        )
    return rules


class Storage(Construct):
    """The five buckets of contract.BUCKETS, by name."""

    def __init__(self, scope: Construct, construct_id: str, *, retain: bool,
                 versioned: bool) -> None:
        super().__init__(scope, construct_id)
        self.logs_bucket = s3.Bucket(
            self,
            "Logs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=versioned,
            lifecycle_rules=_lifecycle_rules(LIFECYCLE["Logs"]),
            removal_policy=removal_policy(retain),
        )
        pin_logical_id(self.logs_bucket, bucket_logical_id("Logs"))
        acknowledge(
            self.logs_bucket, "AwsSolutions-S1",
            "This is the server-access-log target of every other bucket; logging it to "
            "itself would log its own log deliveries in a loop.",
        )
        self.buckets: dict[str, s3.Bucket] = {"Logs": self.logs_bucket}
        for spec in contract.BUCKETS:
            if spec.name == "Logs":
                continue
            bucket = s3.Bucket(
                self,
                spec.name,
                encryption=s3.BucketEncryption.S3_MANAGED,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                versioned=versioned,
                server_access_logs_bucket=self.logs_bucket,
                server_access_logs_prefix=f"s3/{spec.name.lower()}/",
                lifecycle_rules=_lifecycle_rules(LIFECYCLE[spec.name]),
                removal_policy=removal_policy(retain),
            )
            pin_logical_id(bucket, bucket_logical_id(spec.name))
            self.buckets[spec.name] = bucket
