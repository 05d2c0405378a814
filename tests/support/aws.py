"""The SAM template as data, and AWS resources built from it (for moto).

Tests build their fakes from ``template.yaml`` itself, never from a second description, so a
drift between the template and the code fails a test (the serverless-test-samples pattern).
"""

from __future__ import annotations

import copy
import json
import os
from functools import cache
from pathlib import Path
from typing import Any
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
DEFAULT_REGION = "us-east-1"


def load_template(template_path: Path | str = TEMPLATE) -> dict[str, Any]:
    """The template as plain dicts; short tags become long form (``!Ref X`` -> ``{"Ref": "X"}``).

    Parsed with cfn-lint's decoder, the one ``cfn-lint`` and ``sam validate --lint`` use. Each
    call returns a fresh copy, so a test may change it.
    """
    path = Path(template_path).resolve()
    return copy.deepcopy(_parse(str(path), path.stat().st_mtime_ns))


@cache
def _parse(path: str, _mtime_ns: int) -> dict[str, Any]:
    from cfnlint.decode import decode

    template, errors = decode(path)
    if errors or not isinstance(template, dict):
        raise ValueError(f"{path} does not parse: " + "; ".join(str(e) for e in errors))
    # dict_node/str_node carry line marks; plain JSON types are what boto3 and tests expect
    parsed: dict[str, Any] = json.loads(json.dumps(template))
    return parsed


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """``{logical id: resource}`` of one type."""
    return {
        name: resource
        for name, resource in template.get("Resources", {}).items()
        if resource.get("Type") == resource_type
    }


def resource_properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    try:
        resource = template["Resources"][logical_id]
    except KeyError:
        raise KeyError(f"template has no resource {logical_id!r}") from None
    properties: dict[str, Any] = resource.get("Properties", {})
    return properties


def translate_template(
    template_path: Path | str = TEMPLATE, *, region: str = DEFAULT_REGION
) -> dict[str, Any]:
    """The CloudFormation that SAM deploys (samtranslator, as ``sam validate`` runs it), offline.

    Local ``CodeUri``/``ContentUri`` folders become a placeholder S3 URI, as ``sam package``
    would make them; managed policy names are not resolved (no IAM call).
    """
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = load_template(template_path)
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = "s3://placeholder-bucket/code.zip"
    translator = Translator({}, Parser(), boto_session=boto3.Session(region_name=region))
    translated: dict[str, Any] = translator.translate(
        template, parameter_values={}, get_managed_policy_map=dict
    )
    return translated


def create_table_from_template(
    template_path: Path | str = TEMPLATE,
    *,
    logical_id: str = "Table",
    table_name: str | None = None,
    client: Any = None,
) -> str:
    """Create the template's DynamoDB table (under ``moto.mock_aws`` or a moto server).

    Key schema, attribute definitions, secondary indexes, billing mode, stream and TTL all come
    from the template's properties. Pass ``client`` to target a moto server; otherwise a boto3
    client for ``AWS_DEFAULT_REGION`` (or us-east-1) is used. Returns the table name.
    """
    import boto3

    properties = resource_properties(load_template(template_path), logical_id)
    name = table_name or f"{logical_id.lower()}-{uuid4().hex[:8]}"
    dynamodb = client or boto3.client(
        "dynamodb", region_name=os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION)
    )
    billing = _literal(properties.get("BillingMode", "PROVISIONED"), "BillingMode")
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": _literal(properties["KeySchema"], "KeySchema"),
        "AttributeDefinitions": _literal(
            properties["AttributeDefinitions"], "AttributeDefinitions"
        ),
        "BillingMode": billing,
    }
    if billing == "PROVISIONED":
        request["ProvisionedThroughput"] = _literal(
            properties["ProvisionedThroughput"], "ProvisionedThroughput"
        )
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = _literal(properties.get(key, []), key)
        if indexes:
            request[key] = [
                {k: v for k, v in index.items() if k != "ContributorInsightsSpecification"}
                for index in indexes
            ]
    stream = _literal(properties.get("StreamSpecification"), "StreamSpecification")
    if stream:
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    dynamodb.create_table(**request)
    dynamodb.get_waiter("table_exists").wait(TableName=name)
    ttl = _literal(properties.get("TimeToLiveSpecification"), "TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    return name


def _literal(value: Any, where: str) -> Any:
    """Table settings must be literal values: a fake cannot evaluate ``!If`` or ``!Ref``."""

    def check(node: Any) -> None:
        if isinstance(node, dict):
            intrinsic = next((k for k in node if k == "Ref" or k.startswith("Fn::")), None)
            if intrinsic:
                raise ValueError(f"{where} uses {intrinsic}; only literal values are supported")
            for child in node.values():
                check(child)
        elif isinstance(node, list):
            for child in node:
                check(child)

    check(value)
    return value
