"""Generation providers behind one small interface (`Provider`).

- `ExtractiveProvider` ("extractive", the offline default): quotes the best sentences of the
  passages with their citations; no model, no network, no tokens.
- `BedrockConverseProvider` (a Bedrock model id): `bedrock-runtime` Converse with the
  agent's model, temperature and instructions. Transient failures (throttling, 5xx, model
  and read timeouts) are retried with exponential backoff and full jitter within a short
  budget; a per-environment circuit breaker per model stops calling a model that keeps
  failing. Either way the caller gets `ProviderUnavailable` (503 with Retry-After).

Budget: a message must stay under ~10 s. Converse is not streamed, so the read timeout (6 s)
bounds the whole generation. A retry starts only when a full attempt still fits in the 9.5 s
budget: fast failures (throttling, 5xx, connect timeouts) get up to 3 attempts; a read
timeout after 6 s is not retried (a second one would end at ~12 s) and becomes a 503.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from agenthub.environment import connection
from agenthub.errors import ConfigurationError, DependencyUnavailable
from conversations.logic._answer_prompt import NO_ANSWER
from conversations.logic._answer_types import GenerationRequest, GenerationResult
from conversations.logic.breaker import CircuitBreaker, breaker_for

EXTRACTIVE = "extractive"
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelTimeoutException",
        "ModelNotReadyException",
    }
)
# The request or the deployment is wrong (no model access, unknown model, bad input):
# retrying cannot help and the model is not unhealthy, so the breaker does not count it.
CONFIGURATION_CODES = frozenset(
    {
        "AccessDeniedException",
        "ResourceNotFoundException",
        "ValidationException",
        "UnrecognizedClientException",
    }
)
_TRANSPORT_ERRORS = frozenset(
    {"ReadTimeoutError", "ConnectTimeoutError", "EndpointConnectionError", "ConnectionClosedError"}
)
MAX_ATTEMPTS = 3
BASE_DELAY = 0.25
MAX_DELAY = 1.5
CONNECT_TIMEOUT = 2
READ_TIMEOUT = 6
TOTAL_BUDGET_SECONDS = 9.5
MIN_ATTEMPT_SECONDS = READ_TIMEOUT  # a retry starts only if a whole attempt still fits
RETRY_AFTER_SECONDS = 2  # told to the visitor when retries are spent, breaker still closed
# Bedrock model ids ("amazon.nova-lite-v1:0"), cross-region inference profiles
# ("us.anthropic.claude-..."), and ARNs of profiles or provisioned models.
_MODEL_ID = re.compile(
    r"^(?:arn:aws[\w-]*:bedrock:[\w-]+:\d*:[\w/.:-]+|[a-z0-9-]+(?:\.[\w.:-]+)+)$"
)


class ProviderUnavailable(DependencyUnavailable):
    """The model could not answer now (retries spent, or its breaker is open). The visitor
    gets a 503 with Retry-After; `retry_after` is the same number of seconds."""

    code = "provider_unavailable"

    def __init__(
        self,
        message: str = "The assistant cannot answer right now; please try again shortly.",
        *,
        retry_after: int = 1,
        details: Any = None,
    ) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, retry_after=self.retry_after, details=details)


@runtime_checkable
class Provider(Protocol):
    model_id: str

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Answer `request`; raise ProviderUnavailable when the model cannot answer now."""
        ...


class ExtractiveProvider:
    """Composes the answer from the passages themselves (see `_answer_extractive`)."""

    model_id = EXTRACTIVE

    def generate(self, request: GenerationRequest) -> GenerationResult:
        from conversations.logic import _answer_extractive

        composed = _answer_extractive.compose(
            request.passages, request.question, request.search_query
        )
        if composed is None:
            return GenerationResult(NO_ANSWER, 0, 0, "no_answer", EXTRACTIVE, citations=())
        text, citations = composed
        return GenerationResult(text, 0, 0, "end_turn", EXTRACTIVE, citations=citations)


def make_bedrock_client(region_name: str | None = None) -> Any:
    """A `bedrock-runtime` client with this module's timeouts and botocore's own retries
    off (ours do the backoff; two layers would multiply the attempts)."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
    )
    return boto3.session.Session().client("bedrock-runtime", region_name=region_name, config=config)


@connection
def _shared_client() -> Any:
    return make_bedrock_client()


def _error_code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or "")
    return ""


class BedrockConverseProvider:
    def __init__(
        self,
        model_id: str,
        *,
        client: Any = None,
        breaker: CircuitBreaker | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        base_delay: float = BASE_DELAY,
        max_delay: float = MAX_DELAY,
        budget_seconds: float = TOTAL_BUDGET_SECONDS,
        min_attempt_seconds: float = MIN_ATTEMPT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.model_id = model_id
        self._client = client
        self._breaker = breaker if breaker is not None else breaker_for(model_id)
        self._max_attempts = max(1, max_attempts)
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._budget = budget_seconds
        self._min_attempt = min_attempt_seconds
        self._sleep = sleep
        self._clock = clock
        self._random = rng or random.Random()

    @property
    def client(self) -> Any:
        """Created on first use, then shared by every Bedrock provider of the environment."""
        if self._client is None:
            self._client = _shared_client()
        return self._client

    def _params(self, request: GenerationRequest) -> dict[str, Any]:
        return {
            "modelId": self.model_id,
            "system": [{"text": text} for text in request.system],
            "messages": [{"role": m.role, "content": [{"text": m.text}]} for m in request.messages],
            "inferenceConfig": {
                "temperature": request.temperature,
                "maxTokens": request.max_tokens,
            },
        }

    def generate(self, request: GenerationRequest) -> GenerationResult:
        wait = self._breaker.allow()
        if wait is not None:
            raise ProviderUnavailable(retry_after=math.ceil(wait))
        params = self._params(request)
        started = self._clock()
        attempt = 0
        while True:  # every pass returns, retries (bounded by _max_attempts) or raises
            attempt += 1
            try:
                response = self.client.converse(**params)
            except Exception as error:
                code = _error_code(error) or type(error).__name__
                if code in CONFIGURATION_CODES:
                    self._breaker.record_success()  # the service answered: it is up
                    _log_failure(self.model_id, code, attempt, final=True)
                    raise ConfigurationError(f"Bedrock refused the request ({code})") from error
                retryable = code in RETRYABLE_CODES or code in _TRANSPORT_ERRORS
                delay = self._backoff(attempt)
                remaining = self._budget - (self._clock() - started)
                if (
                    retryable
                    and attempt < self._max_attempts
                    and remaining - delay >= self._min_attempt
                ):
                    _log_failure(self.model_id, code, attempt, final=False)
                    self._sleep(delay)
                    continue
                self._breaker.record_failure()
                _log_failure(self.model_id, code, attempt, final=True)
                if not retryable and not _is_service_error(error):
                    raise  # a defect of ours, not the model's: let it surface as a 500
                retry_after = self._breaker.retry_after() or RETRY_AFTER_SECONDS
                raise ProviderUnavailable(retry_after=math.ceil(retry_after)) from error
            self._breaker.record_success()
            return _result(response, self.model_id)

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**(attempt-1))]."""
        return self._random.random() * min(self._max_delay, self._base_delay * 2 ** (attempt - 1))


def _is_service_error(error: BaseException) -> bool:
    """An error the service or the network returned (botocore's), not a bug of ours."""
    return type(error).__module__.startswith("botocore")


def _result(response: dict[str, Any], model_id: str) -> GenerationResult:
    content = response.get("output", {}).get("message", {}).get("content", [])
    text = "".join(block["text"] for block in content if "text" in block)
    usage = response.get("usage", {})
    return GenerationResult(
        text=text,
        tokens_in=int(usage.get("inputTokens", 0)),
        tokens_out=int(usage.get("outputTokens", 0)),
        stop_reason=str(response.get("stopReason", "")),
        model=model_id,
    )


def _log_failure(model_id: str, code: str, attempt: int, *, final: bool) -> None:
    """Which model failed how: never the prompt, the answer or the visitor's words."""
    from agenthub.observability import logger

    logger().warning(
        "generation attempt failed" if not final else "generation failed",
        extra={"model_id": model_id, "error_code": code, "attempt": attempt},
    )


_extractive = ExtractiveProvider()


def provider_for(model: str, *, bedrock_client: Any = None) -> Provider:
    """The provider for an agent's `model`: "extractive" or a Bedrock model id."""
    name = model.strip()
    if name == EXTRACTIVE:
        return _extractive
    if not _MODEL_ID.match(name):
        raise ConfigurationError(f"unknown generation model {model!r}")
    return BedrockConverseProvider(name, client=bedrock_client)
