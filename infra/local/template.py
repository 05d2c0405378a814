"""The template as the local runtime sees it, from SAM CLI's and samtranslator's own code.

The one reader of template.yaml: the runtime, ``make invoke``, the integration harness and the
infrastructure tests all take the template from ``load_template``. Views of one file, each
used for what it is good at:

- SAM CLI's providers (``SamLocalStackProvider``, ``SamFunctionProvider``, ``ApiProvider``) give
  functions (CodeUri, Handler, layers, Globals merged) and the API's routes, authorizers and CORS
  exactly as ``sam local start-api`` mounts them.
- samtranslator's CloudFormation (what ``sam validate`` produces) gives the resources to create
  in moto and the function properties with their intrinsics intact (``TABLE_NAME: !Ref Table``),
  which SAM CLI's resolver flattens to logical ids.
- The template as written (``raw``; intrinsics in long form), and its serverless resources with
  SAM's own Globals merge (``serverless``), for the checks of the template itself.
"""

from __future__ import annotations

import copy
import functools
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local import ACCOUNT_ID, REGION
from infra.local.intrinsics import Resolver, pseudo_parameters

LOG = logging.getLogger("infra.local")
DEFAULT_STACK_NAME = "agenthub-local"


@dataclass
class FunctionSpec:
    """One Lambda function: where its code is and how its environment is built."""

    logical_id: str
    handler: str
    runtime: str
    code_dir: Path
    layer_dirs: list[Path]
    memory_mb: int
    timeout_s: int
    environment: dict[str, Any]  # CloudFormation Variables, intrinsics unresolved
    function_name: Any  # FunctionName property (may be an intrinsic) or None
    alias: str | None
    log_group: Any
    events: dict[str, Any]


@dataclass
class QueueTrigger:
    """An SQS event source mapping (``Events: Type: SQS``)."""

    function: str
    event_name: str
    queue_arn: Any  # unresolved until the queue exists
    batch_size: int
    window_s: float
    report_item_failures: bool
    enabled: bool
    filter_criteria: Any = None  # FilterCriteria, intrinsics unresolved


@dataclass
class StreamTrigger:
    """A DynamoDB Streams event source mapping (``Events: Type: DynamoDB``)."""

    function: str
    event_name: str
    stream_arn: Any  # unresolved until the table exists
    starting_position: str  # LATEST | TRIM_HORIZON
    batch_size: int
    window_s: float
    report_item_failures: bool
    bisect_on_error: bool
    max_retries: int  # -1: until the record expires
    max_record_age_s: int  # -1: until the record expires (24 h)
    on_failure: Any  # DestinationConfig.OnFailure.Destination (an SQS or SNS ARN) or None
    filter_criteria: Any
    enabled: bool


@dataclass
class ScheduleTrigger:
    """A ``Schedule`` (EventBridge rule) or ``ScheduleV2`` (EventBridge Scheduler) event."""

    function: str
    event_name: str
    kind: str
    expression: str
    input: str | None
    enabled: bool
    timezone: str = "UTC"


@dataclass
class ApiSpec:
    """The REST API: SAM CLI's merged ``Api`` plus what start-api ignores and we emulate."""

    api: Any  # samcli.lib.providers.provider.Api
    authorizer_ttls: dict[str, int]
    gateway_responses: dict[str, Any]
    minimum_compression_size: int | None


@dataclass
class TemplateModel:
    path: Path
    parameters: dict[str, Any]
    stack_name: str
    raw: dict[str, Any]
    cfn: dict[str, Any]
    functions: dict[str, FunctionSpec]
    api: ApiSpec | None
    queue_triggers: list[QueueTrigger] = field(default_factory=list)
    stream_triggers: list[StreamTrigger] = field(default_factory=list)
    schedules: list[ScheduleTrigger] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.path.parent

    def serverless(self, kind: str = "AWS::Serverless::Function") -> dict[str, dict[str, Any]]:
        """``{logical id: Properties}`` of the template's ``kind`` resources, Globals merged as
        SAM merges them (maps key by key, lists added, anything else replaced)."""
        from samtranslator.plugins.globals.globals import Globals

        merger = Globals(copy.deepcopy(self.raw))
        return {
            name: merger.merge(kind, copy.deepcopy(resource.get("Properties") or {}))
            for name, resource in self.raw["Resources"].items()
            if resource.get("Type") == kind
        }

    def resolver(
        self, refs: dict[str, Any] | None = None, attrs: dict[str, dict[str, Any]] | None = None
    ) -> Resolver:
        """A resolver over this stack's parameters, conditions and (live) resource maps."""
        return Resolver(
            {**pseudo_parameters(self.stack_name), **self.parameters},
            conditions=self.cfn.get("Conditions"),
            mappings=self.cfn.get("Mappings"),
            refs=refs,
            attrs=attrs,
        )


def load_template(
    path: str | Path,
    parameter_overrides: dict[str, str] | None = None,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
) -> TemplateModel:
    """Read ``path`` with SAM CLI's providers and samtranslator; raise on an invalid template.
    One read per file version, parameters and stack name: callers share the model and must
    not change it."""
    resolved = Path(path).resolve()
    overrides = tuple(sorted((k, str(v)) for k, v in (parameter_overrides or {}).items()))
    return _cached(resolved, resolved.stat().st_mtime_ns, overrides, stack_name)


@functools.cache
def _cached(
    path: Path, _mtime_ns: int, overrides: tuple[tuple[str, str], ...], stack_name: str
) -> TemplateModel:
    _quiet_sam_logging()
    with warnings.catch_warnings():
        # samtranslator's schema validator uses deprecated jsonschema APIs; not ours to fix.
        warnings.simplefilter("ignore", DeprecationWarning)
        return _load(path, dict(overrides), stack_name)


def _load(path: Path, parameter_overrides: dict[str, str], stack_name: str) -> TemplateModel:
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    overrides = {k: str(v) for k, v in parameter_overrides.items()}
    stacks, _ = SamLocalStackProvider.get_stacks(str(path), parameter_overrides=overrides)
    cfn = _translate(path, overrides)
    raw = stacks[0].template_dict
    parameters = _parameter_values(raw.get("Parameters") or {}, overrides)

    provider = SamFunctionProvider(
        stacks, use_raw_codeuri=True, ignore_code_extraction_warnings=True
    )
    aliases = _aliases(cfn["Resources"])
    functions: dict[str, FunctionSpec] = {}
    for function in provider.get_all():
        cfn_function = cfn["Resources"].get(function.name, {})
        spec = _function_spec(path.parent, function, cfn_function, aliases.get(function.name))
        if spec is not None:
            functions[spec.logical_id] = spec

    model = TemplateModel(
        path=path,
        parameters=parameters,
        stack_name=stack_name,
        raw=raw,
        cfn=cfn,
        functions=functions,
        api=_api_spec(stacks, raw),
    )
    _collect_triggers(model)
    return model


def _quiet_sam_logging() -> None:
    # samtranslator prints feature-toggle notes and SAM CLI a banner about authorizer fidelity;
    # neither helps someone running `make dev`.
    for name in ("samcli", "samtranslator"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _parameter_values(definitions: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, definition in definitions.items():
        value = overrides.get(name, definition.get("Default"))
        if value is None:
            raise ValueError(f"template parameter {name} has no Default; pass --param {name}=...")
        if definition.get("Type") == "CommaDelimitedList" and isinstance(value, str):
            value = [item.strip() for item in value.split(",")]
        allowed = definition.get("AllowedValues")
        if allowed and str(value) not in {str(item) for item in allowed}:
            raise ValueError(f"parameter {name}={value!r} is not one of {allowed}")
        values[name] = value
    return values


class _NoManagedPolicies:
    """samtranslator asks IAM for managed policy ARNs; IAM does not matter locally."""

    def load(self) -> dict[str, str]:
        return {}


def _translate(path: Path, overrides: dict[str, str]) -> dict[str, Any]:
    """The CloudFormation samtranslator makes of the template (as `sam validate` does)."""
    from samcli.lib.translate.sam_template_validator import SamTemplateValidator
    from samcli.yamlhelper import yaml_parse

    template = yaml_parse(path.read_text())
    validator = SamTemplateValidator(
        copy.deepcopy(template), _NoManagedPolicies(), region=REGION, parameter_overrides=overrides
    )
    return yaml_parse(validator.get_translated_template_if_valid())


def _aliases(resources: dict[str, Any]) -> dict[str, str]:
    """Function logical id → alias name (AutoPublishAlias), from the generated Lambda::Alias."""
    found: dict[str, str] = {}
    for resource in resources.values():
        if resource.get("Type") == "AWS::Lambda::Alias":
            props = resource.get("Properties") or {}
            target = props.get("FunctionName")
            if isinstance(target, dict) and "Ref" in target:
                found[target["Ref"]] = str(props.get("Name"))
    return found


def _function_spec(
    root: Path, function: Any, cfn_function: dict[str, Any], alias: str | None
) -> FunctionSpec | None:
    if not (function.runtime or "").startswith("python"):
        LOG.warning("%s: runtime %s is not supported locally", function.name, function.runtime)
        return None
    if function.inlinecode or not function.codeuri or not function.handler:
        LOG.warning("%s: inline code or image functions are not supported locally", function.name)
        return None
    props = cfn_function.get("Properties", {})
    layer_dirs = [d for layer in function.layers for d in _layer_paths(root, layer)]
    return FunctionSpec(
        logical_id=function.name,
        handler=function.handler,
        runtime=function.runtime,
        code_dir=(root / function.codeuri).resolve(),
        layer_dirs=[d for d in layer_dirs if d.is_dir()],
        memory_mb=int(function.memory or 128),
        timeout_s=int(function.timeout or 3),
        environment=(props.get("Environment") or {}).get("Variables") or {},
        function_name=props.get("FunctionName"),
        alias=alias,
        log_group=(props.get("LoggingConfig") or {}).get("LogGroup"),
        events=function.events or {},
    )


def _layer_paths(root: Path, layer: Any) -> list[Path]:
    """Where a layer's modules are, as Lambda's /opt/python would hold them.

    With ``Metadata.BuildMethod: python3.x``, ``sam build`` copies ContentUri *into* python/, so
    ContentUri itself is the import root. A prebuilt layer already has the python/ layout.
    Layers given by ARN (not in this template) are skipped; their packages must be in the venv.
    """
    if not layer.codeuri:
        return []
    base = (root / layer.codeuri).resolve()
    if (layer.build_method or "").startswith("python"):
        return [base]
    return [base / "python", base / "python/lib/python3.12/site-packages"]


def _api_spec(stacks: list[Any], raw: dict[str, Any]) -> ApiSpec | None:
    from samcli.lib.providers.api_provider import ApiProvider

    api = ApiProvider(stacks, cwd=str(Path.cwd())).api
    if not api.routes:
        return None
    resources = stacks[0].resources
    ttls: dict[str, int] = {}
    gateway_responses: dict[str, Any] = {}
    compression: int | None = None
    # sam local merges every REST API of the template into one; so do we, and take gateway
    # responses and compression from the first API that sets them.
    for resource in resources.values():
        if resource.get("Type") != "AWS::Serverless::Api":
            continue
        props = resource.get("Properties") or {}
        for name, authorizer in ((props.get("Auth") or {}).get("Authorizers") or {}).items():
            identity = authorizer.get("Identity") or {}
            ttls[name] = int(identity.get("ReauthorizeEvery", 300))
        gateway_responses = gateway_responses or dict(props.get("GatewayResponses") or {})
        if compression is None and props.get("MinimumCompressionSize") is not None:
            compression = int(props["MinimumCompressionSize"])
    return ApiSpec(api, ttls, gateway_responses, compression)


def _collect_triggers(model: TemplateModel) -> None:
    resources = model.cfn["Resources"]
    resolver = model.resolver()
    for spec in model.functions.values():
        for event_name, event in spec.events.items():
            kind = event.get("Type")
            # samtranslator names the generated resource <Function><Event>.
            props = resources.get(spec.logical_id + event_name, {}).get("Properties", {})
            if kind == "SQS":
                model.queue_triggers.append(_queue_trigger(spec, event_name, props))
            elif kind == "DynamoDB":
                model.stream_triggers.append(_stream_trigger(spec, event_name, props))
            elif kind in ("Schedule", "ScheduleV2"):
                model.schedules.append(_schedule(spec, event_name, kind, props, resolver))


def _queue_trigger(spec: FunctionSpec, event_name: str, props: dict[str, Any]) -> QueueTrigger:
    return QueueTrigger(
        function=spec.logical_id,
        event_name=event_name,
        queue_arn=props.get("EventSourceArn"),
        batch_size=int(props.get("BatchSize", 10)),
        window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
        report_item_failures="ReportBatchItemFailures"
        in (props.get("FunctionResponseTypes") or []),
        enabled=_enabled(props),
        filter_criteria=props.get("FilterCriteria"),
    )


def _enabled(props: dict[str, Any]) -> bool:
    return props.get("Enabled", True) not in (False, "false", "False")


def _stream_trigger(spec: FunctionSpec, event_name: str, props: dict[str, Any]) -> StreamTrigger:
    # Defaults are Lambda's for DynamoDB Streams (batch 100, no window, retry until expiry).
    on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    return StreamTrigger(
        function=spec.logical_id,
        event_name=event_name,
        stream_arn=props.get("EventSourceArn"),
        starting_position=str(props.get("StartingPosition", "LATEST")),
        batch_size=int(props.get("BatchSize", 100)),
        window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
        report_item_failures="ReportBatchItemFailures"
        in (props.get("FunctionResponseTypes") or []),
        bisect_on_error=str(props.get("BisectBatchOnFunctionError", False)).lower() == "true",
        max_retries=int(props.get("MaximumRetryAttempts", -1)),
        max_record_age_s=int(props.get("MaximumRecordAgeInSeconds", -1)),
        on_failure=on_failure,
        filter_criteria=props.get("FilterCriteria"),
        enabled=_enabled(props),
    )


def _schedule(
    spec: FunctionSpec, event_name: str, kind: str, props: dict[str, Any], resolver: Resolver
) -> ScheduleTrigger:
    if kind == "ScheduleV2":  # AWS::Scheduler::Schedule
        target = props.get("Target") or {}
        state = resolver.resolve(props.get("State", "ENABLED"))
        raw_input = target.get("Input")
        timezone = resolver.resolve(props.get("ScheduleExpressionTimezone") or "UTC")
    else:  # AWS::Events::Rule with a Lambda target
        targets = props.get("Targets") or [{}]
        state = resolver.resolve(props.get("State", "ENABLED"))
        raw_input = targets[0].get("Input")
        timezone = "UTC"
    return ScheduleTrigger(
        function=spec.logical_id,
        event_name=event_name,
        kind=kind,
        expression=str(resolver.resolve(props.get("ScheduleExpression", ""))),
        input=resolver.resolve(raw_input) if raw_input is not None else None,
        enabled=state != "DISABLED",
        timezone=timezone,
    )


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
