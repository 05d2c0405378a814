"""One error hierarchy; each error knows its HTTP status and code. ``agenthub.http`` maps them
to the single JSON envelope ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}

    def envelope(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class BadRequest(AppError):
    status, code = 400, "bad_request"


class Unauthorized(AppError):
    status, code = 401, "unauthorized"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class OriginNotAllowed(Forbidden):
    code = "origin_not_allowed"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class VersionConflict(Conflict):
    code = "version_conflict"


class PreconditionRequired(AppError):
    status, code = 428, "precondition_required"


class PayloadTooLarge(AppError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(AppError):
    status, code = 415, "unsupported_media_type"


class ValidationFailed(AppError):
    status, code = 422, "validation_failed"


class TooManyRequests(AppError):
    status, code = 429, "too_many_requests"


class PaymentRequired(AppError):
    """The tenant's plan or spend cap does not cover this; paying more would."""

    status, code = 402, "payment_required"


class DependencyUnavailable(AppError):
    """A dependency (DynamoDB, EventBridge, a provider) failed; the client may retry."""

    status, code = 503, "dependency_unavailable"

    def __init__(self, message: str, *, retry_after: int = 1, details: Any = None) -> None:
        super().__init__(message, details=details, headers={"Retry-After": str(retry_after)})


class ConfigurationError(AppError):
    """The deployment is misconfigured. Reported as a plain 500; details only in logs."""

    status, code = 500, "internal_error"


# AWS error codes that mean "try again shortly", not "your request is wrong".
TRANSIENT_AWS_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "TransactionConflictException",
        "SlowDown",
    }
)
_TRANSIENT_TRANSPORT = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ConnectionError",
    }
)


def aws_error_code(exc: BaseException) -> str | None:
    """The AWS error code behind ``exc`` (botocore ClientError or a pynamodb wrapper)."""
    code = getattr(exc, "cause_response_code", None)
    if code:
        return str(code)
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        found = response.get("Error", {}).get("Code")
        return str(found) if found else None
    return None


def is_transient(exc: BaseException) -> bool:
    """True for throttling, AWS-side faults and transport failures, anywhere in the chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if aws_error_code(seen) in TRANSIENT_AWS_CODES:
            return True
        if type(seen).__name__ in _TRANSIENT_TRANSPORT:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_condition_failure(exc: BaseException) -> bool:
    """True when a conditional write (or a transaction) failed on its condition."""
    code = aws_error_code(exc)
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = getattr(exc, "cancellation_reasons", None) or []
        return any(getattr(r, "code", None) == "ConditionalCheckFailed" for r in reasons if r)
    return False
