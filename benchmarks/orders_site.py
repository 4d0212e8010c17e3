"""Benchmark-only WSGI entry point: the product with one extra route, a bare view doing one INSERT.

Served by gunicorn as `orders_site:application` (with --pythonpath benchmarks); run as a script it only
says what it is. The product's own URL conf never carries this route.
"""

from __future__ import annotations

import os

BARE_TABLE = "orders_bench_bare"
handler404 = "builder_platform.errors.handler404"
handler500 = "builder_platform.errors.handler500"


def bare_insert(request):
    """The floor under POST /api/v1/orders: parse nothing, check nothing, one INSERT, answer 201."""
    from django.db import connection
    from django.http import JsonResponse

    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {BARE_TABLE} (body) VALUES (%s) RETURNING id", [request.body.decode()])  # noqa: S608
        (row_id,) = cursor.fetchone()
    return JsonResponse({"id": row_id}, status=201)


def __getattr__(name: str):
    # Built on first use, once Django is set up: including the product's URLs imports its apps.
    if name == "urlpatterns":
        from django.urls import include, path
        from django.views.decorators.csrf import csrf_exempt

        return [
            path("bench/bare-insert", csrf_exempt(bare_insert)),
            path("", include("builder_platform.urls")),
        ]
    raise AttributeError(name)


if __name__ == "__main__":
    print("the WSGI module of benchmarks/orders_intake.py; nothing to measure here")
else:
    import django
    from django.conf import settings

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "builder_platform.settings")
    django.setup(set_prefix=False)
    settings.ROOT_URLCONF = "orders_site"  # swapped before the first request is resolved
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
