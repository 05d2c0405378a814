"""CloudFormation intrinsic functions, resolved against the local stack.

Enough of CloudFormation for a SAM template after samtranslator's transform: Ref, Fn::GetAtt,
Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or,
Condition, Fn::FindInMap, Fn::Base64, Fn::GetAZs and AWS::NoValue. Resource references are
looked up in the ``refs``/``attrs`` maps the provisioner fills as it creates resources.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

from infra.local import ACCOUNT_ID, REGION


class UnresolvedReference(LookupError):
    """A Ref/GetAtt names something the local stack does not (yet) know."""


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
_SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")


def pseudo_parameters(stack_name: str) -> dict[str, Any]:
    """The pseudo parameters of the local stack (fixed account and region, like sam local)."""
    return {
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Region": REGION,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": stack_name,
        "AWS::StackId": (
            f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/00000000-local"
        ),
        "AWS::NotificationARNs": [],
    }


class Resolver:
    """Resolves intrinsics in template fragments.

    ``refs`` maps logical ids to what ``Ref`` returns; ``attrs`` maps logical ids to their
    ``Fn::GetAtt`` attributes. Both are live dicts: the provisioner adds to them as it goes.
    """

    def __init__(
        self,
        parameters: Mapping[str, Any],
        *,
        conditions: Mapping[str, Any] | None = None,
        mappings: Mapping[str, Any] | None = None,
        refs: dict[str, Any] | None = None,
        attrs: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.parameters = dict(parameters)
        self.mappings = mappings or {}
        self.refs = refs if refs is not None else {}
        self.attrs = attrs if attrs is not None else {}
        self._condition_defs = dict(conditions or {})
        self._conditions: dict[str, bool] = {}

    # ------------------------------------------------------------------ conditions
    def condition(self, name: str) -> bool:
        """The value of the template condition ``name`` (evaluated once)."""
        if name not in self._conditions:
            if name not in self._condition_defs:
                raise UnresolvedReference(f"unknown condition {name}")
            self._conditions[name] = bool(self.resolve(self._condition_defs[name]))
        return self._conditions[name]

    # ------------------------------------------------------------------ resolution
    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic in ``value``; AWS::NoValue entries are dropped."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, arg)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise UnresolvedReference(f"Ref {name}")

    def get_att(self, name: str, attribute: str) -> Any:
        try:
            return self.attrs[name][attribute]
        except KeyError:
            raise UnresolvedReference(f"Fn::GetAtt {name}.{attribute}") from None

    def sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            template, variables = arg[0], self.resolve(arg[1])
        else:
            template, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in variables:
                return _text(variables[name])
            if "." in name and name.split(".", 1)[0] not in self.parameters:
                resource, attribute = name.split(".", 1)
                return _text(self.get_att(resource, attribute))
            return _text(self.ref(name))

        # ${!Literal} is an escaped "${Literal}"
        return _SUB_VAR.sub(replace, template).replace("${!", "${")


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def _get_att(resolver: Resolver, arg: Any) -> Any:
    if isinstance(arg, str):
        name, attribute = arg.split(".", 1)
    else:
        name, attribute = arg[0], resolver.resolve(arg[1])
    return resolver.get_att(name, attribute)


def _if(resolver: Resolver, arg: list[Any]) -> Any:
    name, when_true, when_false = arg
    return resolver.resolve(when_true if resolver.condition(name) else when_false)


def _equals(resolver: Resolver, arg: list[Any]) -> bool:
    left, right = (resolver.resolve(item) for item in arg)
    return str(left) == str(right)


def _select(resolver: Resolver, arg: list[Any]) -> Any:
    index, items = resolver.resolve(arg[0]), resolver.resolve(arg[1])
    return items[int(index)]


def _split(resolver: Resolver, arg: list[Any]) -> list[str]:
    delimiter, text = arg[0], resolver.resolve(arg[1])
    return str(text).split(delimiter)


def _join(resolver: Resolver, arg: list[Any]) -> str:
    delimiter, items = arg[0], resolver.resolve(arg[1])
    return delimiter.join(_text(item) for item in items)


def _find_in_map(resolver: Resolver, arg: list[Any]) -> Any:
    name, top, second = (resolver.resolve(item) for item in arg[:3])
    return resolver.mappings[name][top][second]


def _to_json_string(resolver: Resolver, arg: Any) -> str:
    return json.dumps(resolver.resolve(arg), separators=(",", ":"))


_FUNCTIONS: dict[str, Any] = {
    "Ref": lambda r, arg: r.ref(r.resolve(arg)),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": lambda r, arg: r.sub(arg),
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": lambda r, arg: not r.resolve(arg[0]),
    "Fn::And": lambda r, arg: all(r.resolve(item) for item in arg),
    "Fn::Or": lambda r, arg: any(r.resolve(item) for item in arg),
    "Condition": lambda r, arg: r.condition(arg),
    "Fn::FindInMap": _find_in_map,
    "Fn::Base64": lambda r, arg: base64.b64encode(str(r.resolve(arg)).encode()).decode(),
    "Fn::GetAZs": lambda r, arg: [f"{REGION}a", f"{REGION}b", f"{REGION}c"],
    "Fn::ToJsonString": _to_json_string,
}


def references(value: Any) -> set[str]:
    """Logical ids (and parameter names) a fragment refers to, for ordering creation."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
            elif key == "Fn::Sub":
                template = arg[0] if isinstance(arg, list) else arg
                found |= {m.split(".", 1)[0].strip() for m in _SUB_VAR.findall(template)}
                if isinstance(arg, list):
                    found |= references(arg[1])
            else:
                found |= references(arg)
    return found
