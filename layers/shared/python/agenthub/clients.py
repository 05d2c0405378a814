"""AWS clients, created on first use and reused for the life of the environment.

boto3 honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>, which is how the local runtime
and tests point every client at the emulator without code paths of their own.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=2,
        read_timeout=5,
    )
    return boto3.session.Session().client(service, config=config)


def reset_clients() -> None:
    client.cache_clear()


def secret_json(arn: str, *, max_age: int = 300) -> dict[str, Any]:
    """A JSON secret from Secrets Manager through Powertools Parameters, cached ``max_age``
    seconds per environment so a rotation reaches warm environments within that bound."""
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(arn, transform="json", max_age=max_age)
    if not isinstance(value, dict):
        raise ValueError("secret is not a JSON object")
    return value
