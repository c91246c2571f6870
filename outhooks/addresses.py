"""Outbound webhooks go to public addresses only: a subscriber's URL must not
reach the private network this server sits in (the database, a metadata
service, an admin console on loopback).

The host is resolved when the subscription is made (a clear 400) and again
at every delivery, where the connection is made to the very address that was
checked, so a name that resolves to a public address when subscribing and
to 127.0.0.1 later (DNS rebinding) is refused, not followed. Redirects pass
the same check. ``SWITCHBOARD["OUTHOOKS_ALLOW_PRIVATE"]`` lifts it (embedded
mode and tests, whose receivers listen on loopback)."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings


class RefusedAddress(OSError):
    """The host resolves to an address webhooks may not go to."""


def _allowed() -> bool:
    return bool(settings.SWITCHBOARD.get("OUTHOOKS_ALLOW_PRIVATE"))


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def vetted_addresses(host: str, port: int) -> list[tuple]:
    """getaddrinfo() results for host, all of them public (unless allowed)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RefusedAddress(f"{host} does not resolve ({exc})") from None
    if not _allowed():
        for *_, sockaddr in found:
            if not _public(sockaddr[0]):
                raise RefusedAddress(
                    f"{host} resolves to {sockaddr[0]}, a private, loopback or link-local address; "
                    "webhooks are delivered to public addresses only"
                )
    return found


def url_refusal(url: str) -> str | None:
    """Why webhooks may not be sent to ``url``; None when they may."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "an http:// or https:// URL with a host"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        vetted_addresses(parts.hostname, port)
    except ValueError:
        return "the URL's port is not a number between 0 and 65535"
    except RefusedAddress as exc:
        return str(exc)
    return None


def _connect(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None):
    """socket.create_connection() to an address that passed the check."""
    host, port = address
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in vetted_addresses(host, port):
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError(f"no address for {host}")


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _connect


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _connect  # TLS is then wrapped for the URL's host name


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        extra = {"check_hostname": self._check_hostname} if hasattr(self, "_check_hostname") else {}
        return self.do_open(_HTTPSConnection, req, context=self._context, **extra)


def opener() -> urllib.request.OpenerDirector:
    """urlopen() whose every connection (redirects too) is checked; no
    proxies from the environment (a proxy would connect on our behalf)."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _HTTPHandler, _HTTPSHandler)
