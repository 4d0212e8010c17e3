"""Benchmark-only URLs: the product's routes plus /bench/bare, a Django view answering {} as a baseline."""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path

handler404 = "builder_platform.errors.handler404"
handler500 = "builder_platform.errors.handler500"


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({})


urlpatterns = [
    path("bench/bare", bare),
    path("", include("builder_platform.urls")),
]
