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


class DependencyUnavailable(AppError):
    """A dependency (DynamoDB, EventBridge, a provider) failed; the client may retry."""

    status, code = 503, "dependency_unavailable"

    def __init__(self, message: str, *, retry_after: int = 1, details: Any = None) -> None:
        super().__init__(message, details=details, headers={"Retry-After": str(retry_after)})


class ConfigurationError(AppError):
    """The deployment is misconfigured. Reported as a plain 500; details only in logs."""

    status, code = 500, "internal_error"
