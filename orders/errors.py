"""The orders app's refusal: one DomainError subclass, answered by the API layer in the error shape."""

from builder_platform.failures import DomainError


class OrderError(DomainError):
    """An expected refusal: HTTP status, machine code, a sentence to act on, and the field at fault."""
