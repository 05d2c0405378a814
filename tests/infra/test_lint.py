"""The template passes SAM's and cfn-lint's checks, and the project's guardrail rules
(infra/lint/rules) pass on it and fire on templates that break them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.helpers import (
    FIXTURES,
    GUARDRAIL_PREFIX,
    ROOT,
    RULES_DIR,
    TEMPLATE,
    describe,
    lint,
    tool,
    tool_env,
)

GUARDRAILS = {f"E90{n:02d}" for n in range(1, 11)}


@pytest.mark.slow
def test_sam_validate_lint_passes() -> None:
    # Given the project's template
    # When SAM CLI validates and lints it
    done = subprocess.run(
        [tool("sam"), "validate", "--lint", "--template-file", str(TEMPLATE)],
        cwd=ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Then it is a valid SAM template with no lint findings
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "is a valid SAM Template" in output


@pytest.mark.slow
def test_cfn_lint_command_with_guardrails_passes() -> None:
    # Given the command CI runs. The template goes first: --append-rules takes one or more
    # values, so `cfn-lint --append-rules infra/lint/rules template.yaml` would read
    # template.yaml as a second rules folder and crash.
    command = [tool("cfn-lint"), "template.yaml", "--append-rules", "infra/lint/rules"]
    # When it runs
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    # Then nothing is reported
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""


def test_guardrail_rules_are_loaded() -> None:
    # Given the rules folder
    from cfnlint.helpers import load_plugins

    # When cfn-lint loads it the way --append-rules does
    loaded = {rule.id for rule in load_plugins(str(RULES_DIR))}
    # Then every guardrail is there (a rule that fails to load cannot fail a template)
    assert loaded >= GUARDRAILS, f"missing: {sorted(GUARDRAILS - loaded)}"


def test_template_passes_cfn_lint_and_guardrails() -> None:
    # Given the template
    # When cfn-lint runs with the guardrails appended
    matches = lint(TEMPLATE)
    # Then there is no finding at all
    assert not matches, "\n" + describe(matches)


def test_guardrails_pass_on_the_cloudformation_sam_produces(
    translated_template: dict[str, Any], tmp_path: Path
) -> None:
    # Given the template as the SAM transform expands it: AWS::Lambda::Function,
    # EventSourceMapping, Scheduler::Schedule instead of SAM resources and events
    expanded = tmp_path / "expanded.json"
    expanded.write_text(json.dumps(translated_template))
    # When the guardrails run on it
    found = [m for m in lint(expanded) if m.rule.id.startswith(GUARDRAIL_PREFIX)]
    # Then they hold there too
    assert not found, "\n" + describe(found)


# (fixture, rules under test, findings expected as (rule id, resource logical id))
BAD_TEMPLATES = [
    (
        "lint_log_groups.yaml",
        {"E9001"},
        {
            ("E9001", "BadNoLogGroup"),
            ("E9001", "BadPlainNoLogGroup"),
            ("E9001", "BadLogsWithoutRetention"),
        },
    ),
    (
        "lint_queues.yaml",
        {"E9002", "E9003"},
        {("E9002", "BadQueueWithoutRedrive"), ("E9003", "BadUnwatchedDeadLetterQueue")},
    ),
    (
        "lint_event_sources.yaml",
        {"E9004"},
        {("E9004", "BadConsumer"), ("E9004", "BadMapping")},
    ),
    (
        "lint_schedules.yaml",
        {"E9005"},
        {
            ("E9005", "BadJobWithoutRetry"),
            ("E9005", "BadJobWithGeneratedDeadLetterQueue"),
            ("E9005", "BadSchedule"),
            ("E9005", "BadScheduledRule"),
        },
    ),
    (
        "lint_rule_targets.yaml",
        {"E9006"},
        {("E9006", "BadRule"), ("E9006", "BadRuleLiteralArn")},
    ),
    (
        "lint_alarm_severities.yaml",
        {"E9007", "E9008"},
        {
            ("E9007", "BadWarningOnlyDeadLetterQueue"),
            ("E9008", "BadSilentAlarm"),
            ("E9008", "BadTwoSeveritiesAlarm"),
            ("E9008", "BadUntaggedTopicAlarm"),
        },
    ),
    (
        "lint_deployments.yaml",
        {"E9009", "E9010"},
        {
            ("E9009", "BadFunctionWithConfig"),
            ("E9009", "BadZeroTarget"),
            ("E9009", "BadScheduleTarget"),
            ("E9010", "BadFunctionWithUnscopedAlarm"),
            ("E9010", "BadFunctionWithBorrowedAlarm"),
        },
    ),
]


@pytest.mark.parametrize(
    ("fixture", "rules", "expected"), BAD_TEMPLATES, ids=[case[0] for case in BAD_TEMPLATES]
)
def test_guardrail_reports_exactly_the_bad_resources(
    fixture: str, rules: set[str], expected: set[tuple[str, str]]
) -> None:
    # Given a small template where Bad* resources break a guardrail and Good* ones do not
    path = FIXTURES / fixture
    # When cfn-lint runs with the guardrails
    matches = lint(path)
    # Then the template is otherwise valid (a broken fixture would prove nothing)
    others = [m for m in matches if not m.rule.id.startswith(GUARDRAIL_PREFIX)]
    assert not others, f"{fixture} has unrelated findings:\n{describe(others)}"
    # And the rules under test report the bad resources, and only those
    found = {(m.rule.id, m.path[1]) for m in matches if m.rule.id in rules}
    assert found == expected, "\n" + describe([m for m in matches if m.rule.id in rules])
