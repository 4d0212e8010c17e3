"""Placeholder until partner API keys land."""

from rest_framework.permissions import BasePermission


class PartnerApiKeyAuthentication:
    def authenticate(self, request):
        return None

    def authenticate_header(self, request):
        return "X-API-Key"


class IsPartner(BasePermission):
    def has_permission(self, request, view):
        return False
