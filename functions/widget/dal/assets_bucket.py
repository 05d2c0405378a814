"""The deploy step's AWS calls: upload the built assets to the stack's WidgetAssetsBucket and
refresh the loader in WidgetDistribution. Never called by a Lambda function."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class PublishedFile(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def body(self) -> bytes: ...
    @property
    def content_type(self) -> str: ...
    @property
    def cache_control(self) -> str: ...
    @property
    def versioned(self) -> bool: ...


def publish(files: Sequence[PublishedFile], *, stack_name: str, region: str | None) -> None:
    """Upload content-hashed files first (skipping those already there: they never change),
    the loader last, so a loader never names a file that is not yet uploaded; then invalidate
    the loader in CloudFront so visitors get it now rather than within its 24 h TTL. Nothing
    is deleted: loaders cached before this deployment keep loading their own UI files."""
    import boto3
    from botocore.exceptions import ClientError

    session = boto3.session.Session(region_name=region)
    bucket = _physical_id(session, stack_name, "WidgetAssetsBucket")
    distribution = _physical_id(session, stack_name, "WidgetDistribution")
    s3 = session.client("s3")
    for item in sorted(files, key=lambda f: not f.versioned):
        if item.versioned:
            try:
                s3.head_object(Bucket=bucket, Key=item.name)
                continue
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey"):
                    raise
        s3.put_object(
            Bucket=bucket,
            Key=item.name,
            Body=item.body,
            ContentType=item.content_type,
            CacheControl=item.cache_control,
        )
    loaders = [f"/{f.name}" for f in files if not f.versioned]
    session.client("cloudfront").create_invalidation(
        DistributionId=distribution,
        InvalidationBatch={
            "Paths": {"Quantity": len(loaders), "Items": loaders},
            "CallerReference": "-".join(sorted(f.name for f in files if f.versioned)),
        },
    )


def _physical_id(session: Any, stack_name: str, logical_id: str) -> str:
    found = session.client("cloudformation").describe_stack_resource(
        StackName=stack_name, LogicalResourceId=logical_id
    )
    return str(found["StackResourceDetail"]["PhysicalResourceId"])
