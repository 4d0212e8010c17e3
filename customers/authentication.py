"""Partner authentication by the X-API-Key header (as at Parsec), IsPartner, key scopes, OpenAPI scheme."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission

from builder_platform.logs import log_context_bind
from customers import selectors, services
from customers.api_keys import api_key_is_well_formed
from customers.errors import CustomerError, CustomerErrorCode, partner_suspended_refusal
from customers.models import Partner, PartnerApiKey

API_KEY_HEADER = "X-API-Key"


@dataclass(frozen=True)
class PartnerUser:
    """`request.user` for a partner's request: authenticated, never staff, wrapping the partner."""

    partner: Partner
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False

    @property
    def pk(self) -> int:
        return self.partner.pk

    def __str__(self) -> str:
        return f"partner {self.partner.name}"


def api_key_authenticate(*, raw_key: str, now: datetime) -> PartnerApiKey:
    """The active key for this raw text (its partner loaded), or AuthenticationFailed saying why."""
    if not api_key_is_well_formed(raw_key):
        raise exceptions.AuthenticationFailed(
            f"The {API_KEY_HEADER} header does not hold a platform API key (bp_ followed by at least "
            "32 URL-safe characters)."
        )
    api_key = selectors.partner_api_key_cached(raw_key=raw_key)
    if api_key is None:
        raise exceptions.AuthenticationFailed("This API key is not known; check it or create a new one.")
    if api_key.is_revoked:
        raise exceptions.AuthenticationFailed("This API key has been revoked; use another key.")
    # A suspended partner still authenticates: IsPartner lets it read and cancel, and refuses the rest.
    services.partner_api_key_touch(api_key=api_key, now=now)
    return api_key


class PartnerApiKeyAuthentication(BaseAuthentication):
    """`request.user` is a PartnerUser, `request.auth` the PartnerApiKey (so `request.auth.partner`)."""

    def authenticate(self, request) -> tuple[PartnerUser, PartnerApiKey] | None:
        raw_key = request.META.get("HTTP_X_API_KEY")
        if raw_key is None:
            return None  # IsPartner answers 401 "send your key"
        api_key = api_key_authenticate(raw_key=raw_key.strip(), now=timezone.now())
        # The request's log lines, and the tasks it queues, say whose request it was.
        log_context_bind(partner_id=api_key.partner_id)
        return PartnerUser(partner=api_key.partner), api_key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when the key is missing or refused.
        return f'ApiKey header="{API_KEY_HEADER}"'


class IsPartner(BasePermission):
    """A partner's key, and the one place a suspended partner's writes are refused.

    A suspended partner reads everything (its statements, orders, fills) and may still stop its own
    trading: a view lists in `suspended_partner_may` the methods that only cancel (DELETE an order,
    cancel-all, the heartbeat). Any other write answers 409 partner_suspended.
    """

    message = f"Send your partner API key in the {API_KEY_HEADER} header."

    def has_permission(self, request, view) -> bool:
        if not (isinstance(request.user, PartnerUser) and isinstance(request.auth, PartnerApiKey)):
            return False
        if request.method in SAFE_METHODS or request.auth.partner.status != Partner.Status.SUSPENDED:
            return True
        if request.method in getattr(view, "suspended_partner_may", ()):
            return True
        raise partner_suspended_refusal()


READ_ONLY_MESSAGE = (
    "This API key is read-only (scope read): it may only read. Use a read_write key for this request."
)


class KeyScopeAllowsMethod(BasePermission):
    """A read key reads only: any method but GET, HEAD and OPTIONS answers 403 key_read_only.

    One place for every partner route (a default permission class), so a new write route is covered
    without a line of its own.
    """

    def has_permission(self, request, view) -> bool:
        api_key = request.auth
        if (
            isinstance(api_key, PartnerApiKey)
            and api_key.scope != PartnerApiKey.Scope.READ_WRITE
            and request.method not in SAFE_METHODS
        ):
            # A DomainError, not DRF's PermissionDenied: the exception handler answers it with its own code.
            raise CustomerError(READ_ONLY_MESSAGE, code=CustomerErrorCode.KEY_READ_ONLY, status=403)
        return True


def read_key_refusals_in_schema(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: every write operation declares the 403 a read key gets."""
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method.upper() in SAFE_METHODS or not isinstance(operation, dict):
                continue
            operation.setdefault("responses", {}).setdefault(
                "403",
                {
                    "description": "The API key is read-only (code key_read_only); this operation "
                    "needs a read_write key.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            )
            # Statuses in order, as the generator writes them.
            operation["responses"] = dict(sorted(operation["responses"].items()))
    return result


class PartnerApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "customers.authentication.PartnerApiKeyAuthentication"
    name = "PartnerApiKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": API_KEY_HEADER,
            "description": "A partner API key (bp_...), created by an admin and shown once.",
        }
