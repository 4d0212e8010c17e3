"""Who is signed in: the customer id kept in the Django session, and guards for pages and JSON views."""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect
from django.urls import reverse

from builder_platform.api import error_body
from customers.models import Customer
from web import selectors
from web.errors import WebErrorCode

SESSION_CUSTOMER_KEY = "web_customer_id"
_CACHE_ATTRIBUTE = "_web_customer"


def session_customer(request: HttpRequest) -> Customer | None:
    """The signed-in customer, read once per request; None when nobody is signed in."""
    if not hasattr(request, _CACHE_ATTRIBUTE):
        customer_id = request.session.get(SESSION_CUSTOMER_KEY)
        customer = selectors.web_customer_get(customer_id=customer_id) if customer_id else None
        setattr(request, _CACHE_ATTRIBUTE, customer)
    return getattr(request, _CACHE_ATTRIBUTE)


def session_sign_in(request: HttpRequest, customer: Customer) -> None:
    # A new session key and CSRF token, as django.contrib.auth.login does: whatever an attacker may
    # have planted in this browser before sign-in is worthless afterwards.
    request.session.cycle_key()
    rotate_token(request)
    request.session[SESSION_CUSTOMER_KEY] = str(customer.pk)
    setattr(request, _CACHE_ATTRIBUTE, customer)


def session_sign_out(request: HttpRequest) -> None:
    request.session.flush()
    setattr(request, _CACHE_ATTRIBUTE, None)


def not_signed_in_response() -> JsonResponse:
    return JsonResponse(
        error_body(code=WebErrorCode.NOT_SIGNED_IN, message="Sign in with your wallet first."), status=401
    )


def page_requires_customer(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Pages: send visitors who are not signed in to the sign-in page, and back here afterwards."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if session_customer(request) is None:
            return redirect(f"{reverse('web:home')}?{urlencode({'next': request.get_full_path()})}")
        return view(request, *args, **kwargs)

    return wrapper


def json_requires_customer(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """JSON endpoints: 401 in the platform's error shape when nobody is signed in."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if session_customer(request) is None:
            return not_signed_in_response()
        return view(request, *args, **kwargs)

    return wrapper
