"""AWS clients, created on first use and reused for the life of the environment.

boto3 honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>, which is how the local runtime
and tests point every client at the emulator without code paths of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agenthub.environment import connection, on_reset


@connection
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=2,
        read_timeout=5,
    )
    make: Callable[..., Any] = boto3.session.Session().client  # any service, by name
    return make(service, config=config)


def secret_json(arn: str, *, max_age: int = 300) -> dict[str, Any]:
    """A JSON secret from Secrets Manager through Powertools Parameters, cached ``max_age``
    seconds per environment so a rotation reaches warm environments within that bound."""
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(arn, transform="json", max_age=max_age)
    if not isinstance(value, dict):
        raise ValueError("secret is not a JSON object")
    return value


def _forget_secret_values() -> None:
    from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

    for provider in DEFAULT_PROVIDERS.values():
        provider.clear_cache()


def _forget_parameter_providers() -> None:
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()


on_reset(_forget_secret_values)
on_reset(_forget_parameter_providers, cold=True)
