"""The partner API's documentation pages, Swagger UI and Redoc, which must work with no internet.

Both are served from our own static files (drf-spectacular-sidecar). Redoc's bundle still links the
Redocly logo from its CDN, so the pages also carry a Content-Security-Policy that lets the browser load
nothing but this server's own files: the docs can never reach outside, whatever a bundle links to.
"""

from __future__ import annotations

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

# Inline scripts and styles: both pages start their bundle from an inline script. blob: workers:
# Redoc's search index runs in one.
OFFLINE_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' blob:",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
    ]
)


class _OfflinePage:
    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = OFFLINE_CONTENT_SECURITY_POLICY
        return response


class SwaggerDocsView(_OfflinePage, SpectacularSwaggerView):
    pass


class RedocDocsView(_OfflinePage, SpectacularRedocView):
    # drf-spectacular's page without its Google Fonts links.
    template_name = "api/redoc.html"
