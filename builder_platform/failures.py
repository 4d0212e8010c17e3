"""The one error model of the services: an expected refusal a caller can show as it is.

Every app's refusal (`OrderError`, `FeeError`, `CustomerError`, `SignInRefused`) is a `DomainError`:
a sentence to act on, a machine code, the HTTP status it answers with, and the field at fault. The
API layer turns any of them into the one error shape (`builder_platform.api`), so no API module keeps
its own code-to-status map. Nothing here depends on DRF.
"""

from typing import Any


class DomainError(Exception):
    """An expected refusal: a sentence, a machine code, its HTTP status and the field at fault."""

    status: int = 400

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = None,
        field: str | None = None,
        fields: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = str(code)
        if status is not None:
            self.status = status
        self.field = field
        self.fields = fields if fields is not None else ({field: message} if field else None)
        self.retry_after = retry_after  # seconds, sent as Retry-After

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status}, field={self.field!r})"
