"""Which webhook URLs may be called: https (unless debug), no private, loopback, link-local or metadata
address (unless WEBHOOK_ALLOW_PRIVATE_URLS), checked when the URL is set and again before each request,
since what a name resolves to can change."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

# Cloud metadata services not already covered by link-local (169.254.0.0/16).
_METADATA_ADDRESSES = {
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}


class DestinationRefused(Exception):
    """A URL a webhook must not be sent to, with the sentence saying why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _address_problem(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in _METADATA_ADDRESSES or str(address) == "169.254.169.254":
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "a reserved address"
    if address.is_private or (isinstance(address, ipaddress.IPv4Address) and address in _SHARED):
        return "a private address"
    return None


_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, not "private" to Python 3.11


def url_check(url: str) -> tuple[str, int]:
    """(host, port) of a URL a webhook may be sent to; raises DestinationRefused saying why not."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DestinationRefused("The URL is not a valid URL.") from None
    if parts.scheme not in ("https", "http"):
        raise DestinationRefused("The URL must start with https://.")
    if parts.scheme == "http" and not settings.WEBHOOK_ALLOW_HTTP:
        raise DestinationRefused("The URL must use https.")
    if not parts.hostname:
        raise DestinationRefused("The URL has no host.")
    if parts.username or parts.password:
        raise DestinationRefused("The URL must not carry a user name or password.")
    if parts.fragment:
        raise DestinationRefused("The URL must not have a #fragment.")
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    if settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        return host, port
    try:
        literal = ipaddress.ip_address(host)
        addresses = {literal}
    except ValueError:
        if host.lower() == "localhost" or host.lower().endswith(".localhost"):
            raise DestinationRefused(f"The URL's host {host} is a loopback address.") from None
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError):
            raise DestinationRefused(f"The URL's host {host} does not resolve.") from None
        addresses = {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}
    for address in sorted(addresses, key=str):
        problem = _address_problem(address)
        if problem:
            raise DestinationRefused(
                f"The URL's host {host} resolves to {address}, {problem}; webhooks are sent to public "
                "addresses only."
            )
    return host, port
