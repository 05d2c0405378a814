"""The public (widget) routes are bounded in front of the functions too: a WAF rate-based
rule per source address on the API stage, tighter stage throttles on the widget's writes,
reserved concurrency for the conversations function, and the per-address / per-key limits
configured in the function's environment."""

from __future__ import annotations

from typing import Any

from conversations.handlers.shared import ConversationSettings


def test_a_waf_rate_based_rule_guards_the_public_routes_of_the_api_stage(
    translated_template: dict[str, Any],
) -> None:
    resources = translated_template["Resources"]
    acl = resources["ApiWebAcl"]["Properties"]
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    rule = rules["public-routes-per-address"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate["AggregateKeyType"] == "IP"
    assert rate["Limit"] == {"Ref": "PublicRequestsPerFiveMinutes"}
    match = rate["ScopeDownStatement"]["ByteMatchStatement"]
    assert match["SearchString"] == "/v1/public/"
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    association = resources["ApiWebAclAssociation"]["Properties"]
    assert association["WebACLArn"] == {"Fn::GetAtt": ["ApiWebAcl", "Arn"]}
    assert "/restapis/${Api}/stages/" in str(association["ResourceArn"])
    # and known bad inputs (Log4Shell-style lookups) are blocked on every route
    managed = rules["aws-known-bad-inputs"]["Statement"]["ManagedRuleGroupStatement"]
    assert managed["Name"] == "AWSManagedRulesKnownBadInputsRuleSet"


def test_the_widgets_writes_have_their_own_stage_throttles(template: dict[str, Any]) -> None:
    settings = template["Resources"]["Api"]["Properties"]["MethodSettings"]
    throttled = {
        (s["ResourcePath"], s["HttpMethod"]) for s in settings if "ThrottlingRateLimit" in s
    }
    assert ("/~1v1~1public~1agents~1{agentId}~1conversations", "POST") in throttled
    assert (
        "/~1v1~1public~1agents~1{agentId}~1conversations~1{conversationId}~1messages",
        "POST",
    ) in throttled


def test_the_conversations_function_has_reserved_concurrency(template: dict[str, Any]) -> None:
    function = template["Resources"]["ConversationsApiFunction"]["Properties"]
    assert function["ReservedConcurrentExecutions"] == {
        "Fn::If": [
            "HasPublicConcurrency",
            {"Ref": "PublicFunctionConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }


def test_per_address_and_per_key_limits_are_configured_and_valid(template: dict[str, Any]) -> None:
    variables = template["Resources"]["ConversationsApiFunction"]["Properties"]["Environment"][
        "Variables"
    ]
    names = {
        "CLIENT_MESSAGES_PER_WINDOW",
        "KEY_MESSAGES_PER_WINDOW",
        "CLIENT_STARTS_PER_WINDOW",
        "KEY_STARTS_PER_WINDOW",
    }
    assert names <= set(variables)
    configured = ConversationSettings.model_validate(
        {
            "table_name": "table",
            "event_bus_name": "bus",
            "signing_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:s",
            "documents_bucket": "docs",
            **{name.lower(): variables[name] for name in names},
            "agent_messages_per_window": variables["AGENT_MESSAGES_PER_WINDOW"],
        }
    )
    # one key may not take the agent's whole budget
    assert configured.key_messages_per_window < configured.agent_messages_per_window


def test_billing_and_analytics_have_no_unauthenticated_route_and_no_write_goes_unauthenticated(
    translated_template: dict[str, Any],
) -> None:
    from tests.infra.test_routes import _deployed_authorization

    deployed = _deployed_authorization(translated_template)
    open_routes = {route for route, authorizer in deployed.items() if authorizer == "NONE"}
    assert not {r for r in open_routes if r[1].startswith(("/v1/billing", "/v1/analytics"))}
    open_writes = {r for r in open_routes if r[0] != "GET"}
    # the Stripe webhooks (signed), tenant creation (the platform admin token, checked by
    # the function) and a visitor's manage links (a signed single-use token, limited per
    # client address by the function)
    assert open_writes == {
        ("POST", "/v1/webhooks/stripe"),
        ("POST", "/v1/webhooks/stripe/{tenantId}"),
        ("POST", "/v1/tenants"),
        ("POST", "/v1/public/bookings/cancel"),
        ("POST", "/v1/public/bookings/reschedule"),
    }
