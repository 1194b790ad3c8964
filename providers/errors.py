"""One error root, one subclass per failure kind. The server maps each to a tool error."""

from __future__ import annotations


class MediagenError(Exception):
    """Root of every error this library raises on purpose."""

    code = "error"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        code: str | None = None,
        retryable: bool | None = None,
        status: int | None = None,
        provider_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.provider_code = provider_code  # the provider's own code (e.g. INSUFFICIENT_CREDITS), kept as data
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable


class InvalidArgument(MediagenError):
    """The caller can fix it: names the field and what is allowed. Raised before any HTTP request."""

    code = "invalid_argument"

    def __init__(self, field: str, message: str, *, provider: str | None = None) -> None:
        super().__init__(f"{field}: {message}", provider=provider)
        self.field = field


class AuthError(MediagenError):
    code = "auth"


class BadRequestError(MediagenError):
    code = "bad_request"


class InsufficientCreditsError(MediagenError):
    code = "insufficient_credits"


class ContentPolicyError(MediagenError):
    code = "content_policy"


class NotFoundError(MediagenError):
    code = "not_found"


class RateLimitedError(MediagenError):
    code = "rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class UpstreamError(MediagenError):
    """The provider failed (5xx, unreadable body, connection trouble on a read)."""

    code = "upstream"
    retryable = True


class UncertainSubmitError(MediagenError):
    """A submit may have reached the provider but no answer came back. Never resent automatically."""

    code = "uncertain_submit"
    retryable = False
