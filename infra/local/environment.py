"""A function's process environment, built like Lambda builds it.

The template's Globals + Function ``Environment`` (samtranslator has merged them), with
intrinsics resolved to the moto resources' names and ARNs, on top of Lambda's reserved
variables. Nothing is inherited from the developer's shell except PATH and locale: real AWS
credentials, profiles and config files must never reach a local function.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local import REGION
from infra.local.intrinsics import Resolver
from infra.local.resources import FAKE_CREDENTIALS
from infra.local.template import FunctionSpec, function_arn

WORKER_SCRIPT = str(Path(__file__).resolve().parent / "worker.py")


def function_name(spec: FunctionSpec, resolver: Resolver) -> str:
    """FunctionName if the template sets one, else the logical id (as sam local does)."""
    if spec.function_name is not None:
        return str(resolver.resolve(spec.function_name))
    return spec.logical_id


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(item) for item in value)
    return str(value)


def template_variables(spec: FunctionSpec, resolver: Resolver) -> dict[str, str]:
    """The function's Globals + Function ``Environment`` variables, intrinsics resolved."""
    return {key: _text(value) for key, value in resolver.resolve(spec.environment).items()}


def function_environment(
    spec: FunctionSpec,
    resolver: Resolver,
    endpoint_url: str,
    *,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Every variable the function's process gets."""
    name = function_name(spec, resolver)
    log_group = resolver.resolve(spec.log_group) if spec.log_group else f"/aws/lambda/{name}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONUNBUFFERED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "AgentHubLocal",
    }
    env.update(template_variables(spec, resolver))
    env.update(extra or {})
    # Lambda's reserved variables, plus the emulator wiring; these win over the template.
    env.update(
        {
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": "testing",
            "AWS_ENDPOINT_URL": endpoint_url,
            # Never read the developer's ~/.aws files.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": function_version(spec),
            "AWS_LAMBDA_LOG_GROUP_NAME": str(log_group),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_SAM_LOCAL": "true",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "LAMBDA_RUNTIME_DIR": str(Path(WORKER_SCRIPT).parent),
            "_HANDLER": spec.handler,
            "PYTHONPATH": os.pathsep.join([str(spec.code_dir), *map(str, spec.layer_dirs)]),
        }
    )
    return env


def parse_env_overrides(pairs: list[str]) -> dict[str, dict[str, str]]:
    """``--env IngestionFunction.ALLOW_PRIVATE_URLS=true`` → {"IngestionFunction": {...}};
    without a function name (``--env LOG_LEVEL=DEBUG``) the variable is for every function."""
    overrides: dict[str, dict[str, str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        function, dot, name = key.partition(".")
        if not dot:
            function, name = "*", key
        if not sep or not name or not function:
            raise ValueError(f"--env expects [FUNCTION.]NAME=VALUE, got {pair!r}")
        overrides.setdefault(function, {})[name] = value
    return overrides


def function_version(spec: FunctionSpec) -> str:
    # AutoPublishAlias: the API and event sources invoke the alias, which points at version 1.
    return "1" if spec.alias else "$LATEST"


def worker_config(spec: FunctionSpec, env: dict[str, str]) -> dict[str, Any]:
    """What the worker needs to build a Lambda context object."""
    name = env["AWS_LAMBDA_FUNCTION_NAME"]
    arn = function_arn(name) + (f":{spec.alias}" if spec.alias else "")
    stream = f"{datetime.now(UTC):%Y/%m/%d}/[{function_version(spec)}]{uuid.uuid4().hex}"
    return {
        "handler": spec.handler,
        "function_name": name,
        "function_version": function_version(spec),
        "invoked_function_arn": arn,
        "memory_limit_in_mb": spec.memory_mb,
        "log_group_name": env["AWS_LAMBDA_LOG_GROUP_NAME"],
        "log_stream_name": stream,
    }
