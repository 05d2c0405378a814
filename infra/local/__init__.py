"""AgentHub's Docker-free local runtime: the template's resources in a moto server, an API
Gateway emulation on http://127.0.0.1:3000, functions in warm worker processes, SQS event
source mappings and schedules. See docs/local-runtime.md.

Entry points: ``python -m infra.local`` (make dev), ``python -m infra.local.invoke``
(make invoke) and :class:`infra.local.runtime.LocalRuntime` (tests).
"""

import os

# SAM CLI code is imported for its template providers and event constructor; it must never
# send telemetry from a developer machine or a CI runner.
os.environ["SAM_CLI_TELEMETRY"] = "0"

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
