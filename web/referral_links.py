"""Referral links on the web frontend: `/r/<code>` and `?ref=<code>` count a click and remember the code in
a signed cookie for REFERRAL_ATTRIBUTION_DAYS; the first wallet sign-in then attributes the new customer."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from referrals.models import ReferralCode
from referrals.services import referral_click_record, referral_code_usable

COOKIE_NAME = "referral"
COOKIE_SALT = "web.referral_links"
# Paths that are not the frontend's pages: a ?ref= there is someone else's parameter.
NOT_PAGES = ("/api/", "/app/", "/admin/", "/sim/", "/static/", "/healthz", "/readyz")


def _max_age_seconds() -> int:
    return settings.REFERRAL_ATTRIBUTION_DAYS * 86_400


def referral_cookie_code(request: HttpRequest) -> str | None:
    """The code a valid, unexpired cookie remembers (the signature carries its time), or None."""
    return request.get_signed_cookie(COOKIE_NAME, default=None, salt=COOKIE_SALT, max_age=_max_age_seconds())


def referral_invitation(request: HttpRequest) -> ReferralCode | None:
    """The active code this visitor's cookie remembers (or this very request's ?ref= brings), with its
    partner: whose invitation brought them."""
    code = referral_cookie_code(request) or getattr(request, "referral_code_arriving", None)
    return referral_code_usable(code) if code else None


def _remember(request: HttpRequest, raw_code: str) -> ReferralCode | None:
    """Count the click; the code to set in the cookie, or None (invalid, or an invitation already held)."""
    code = referral_click_record(raw_code=raw_code, now=timezone.now())
    # First touch wins: a visitor who already carries a valid invitation keeps it.
    if code is None or referral_invitation(request) is not None:
        return None
    return code


def _set_cookie(request: HttpRequest, response: HttpResponse, code: ReferralCode | None) -> None:
    if code is None:
        return
    response.set_signed_cookie(
        COOKIE_NAME,
        code.code,
        salt=COOKIE_SALT,
        max_age=_max_age_seconds(),
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )


def _own_path(request: HttpRequest, candidate: str | None) -> str:
    if (
        candidate
        and candidate.startswith("/")
        and not candidate.startswith("//")
        and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()})
    ):
        return candidate
    return "/"


@require_GET
def referral_link(request: HttpRequest, code: str) -> HttpResponse:
    """`/r/<code>?next=/markets`: count the click, remember a valid code, go on to one of our own pages.

    An unknown or inactive code is counted and otherwise ignored: the visitor is redirected all the same.
    """
    response = HttpResponseRedirect(_own_path(request, request.GET.get("next")))
    _set_cookie(request, response, _remember(request, code))
    return response


class ReferralQueryMiddleware:
    """`?ref=<code>` on any page of the frontend does what `/r/<code>` does, without a redirect."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.GET.get("ref")
        code = None
        if raw and request.method == "GET" and not request.path.startswith(NOT_PAGES) and len(raw) <= 64:
            code = _remember(request, raw)
            if code is not None:
                request.referral_code_arriving = code.code  # this page already shows the invitation
        response = self.get_response(request)
        _set_cookie(request, response, code)
        return response
