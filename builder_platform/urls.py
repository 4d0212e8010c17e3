"""Top-level URLs: the partner API, the simulator, admin, docs, probes and the web frontend."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from builder_platform import docs, health
from monitoring.views import metrics_view

# Under /api/ and /app/ these answer JSON in the error shape (debug on, the middleware does).
handler400 = "builder_platform.errors.handler400"
handler403 = "builder_platform.errors.handler403"
handler404 = "builder_platform.errors.handler404"
handler500 = "builder_platform.errors.handler500"

api_v1 = [
    path("", include("customers.urls")),
    path("", include("fees.urls")),
    path("", include("orders.urls")),
    path("", include("affiliates.urls")),
    path("", include("portfolio.urls")),
    path("", include("webhooks.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", docs.SwaggerDocsView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", docs.RedocDocsView.as_view(url_name="schema"), name="api-redoc"),
    path("", include("web.urls")),
]

if settings.PARSEC_SIMULATOR:
    urlpatterns.append(path("sim/api/v1/", include("parsec.sim.urls")))
