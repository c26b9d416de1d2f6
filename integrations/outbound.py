"""Sending HTTP to addresses that integrations give us (webhooks) without letting them reach inside.

Who may receive: only public addresses (`is_public`). `ipaddress.is_global` alone is not enough: it calls
NAT64 (64:ff9b::/96), 6to4 (2002::/16), IPv4-compatible (::/96), site-local (fec0::/10) and multicast
addresses global, and several of them carry an IPv4 address the network delivers to (64:ff9b::7f00:1 is
127.0.0.1 behind a NAT64 gateway). So an IPv6 address that embeds an IPv4 one is public only if the IPv4 one
is, and the forms that only make sense inside a network (local-use NAT64 64:ff9b:1::/48, IPv4-compatible,
site-local, multicast) never are.

How we send (`post`): the host is resolved once and every address it resolves to is vetted; the connection
then goes to a vetted address (the Host header, SNI and the certificate check still use the name), so a DNS
answer that changes between the check and the connection (DNS rebinding) cannot move the request inside. The
socket's peer is checked again once connected, and no redirect is followed (http.client never follows one:
a 3xx is an answer like any other non-2xx).

What the caller learns on a refusal is one of the generic `Refused` reasons below: delivery logs are readable
with a read-scope key, so the addresses a name resolved to and the resolver's error text go to the server
log only.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

log = logging.getLogger(__name__)

NOT_PUBLIC = "refused: the address is not public"
NOT_RESOLVED = "refused: the host name could not be resolved"
NOT_HTTP = "refused: only http(s) addresses can receive webhooks"

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
_NEVER_PUBLIC_V6 = tuple(
    ipaddress.ip_network(net)
    for net in (
        "64:ff9b:1::/48",  # RFC 8215 local-use NAT64: a translator inside someone's network
        "::/96",  # IPv4-compatible (deprecated), and :: and ::1
        "fec0::/10",  # site-local (deprecated)
    )
)
_EMBEDDED_PREFIX_LENGTH = 32


class Refused(Exception):
    """We will not send to this URL. str() is one of the generic reasons above, safe to show anyone."""


def is_public(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True if `address` is a global unicast address, and so is any IPv4 address it embeds."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in net for net in _NEVER_PUBLIC_V6):
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & (2**_EMBEDDED_PREFIX_LENGTH - 1))
        if embedded is not None:
            return is_public(embedded)
    return ip.is_global


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order; Refused if it resolves to none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        log.warning("Cannot resolve webhook host %s: %s", host, exc)
        raise Refused(NOT_RESOLVED) from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise Refused(NOT_RESOLVED)
    return addresses


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[str, ...]  # vetted: the only ones we connect to


def _split(url: str):
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise Refused(NOT_HTTP) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(NOT_HTTP)
    return parts, port or (443 if parts.scheme == "https" else 80)


def vet(url: str, *, allow_private: bool = False) -> Target:
    """Resolve `url`'s host once and check every address; the Target holds what `post` may connect to."""
    parts, port = _split(url)
    addresses = resolve(parts.hostname, port)
    hidden = [address for address in addresses if not is_public(address)]
    if hidden and not allow_private:
        log.warning("Refused webhook URL %s: %s resolves to %s", url, parts.hostname, ", ".join(hidden))
        raise Refused(NOT_PUBLIC)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port, path, tuple(addresses))


class _Pinned:
    """Connects to the target's vetted addresses only, and refuses a peer that turns out not to be public."""

    target: Target
    allow_private: bool
    port: int
    timeout: float

    def _pinned_socket(self) -> socket.socket:
        error: OSError = ConnectionError("no address to connect to")
        for address in self.target.addresses:
            try:
                sock = socket.create_connection((address, self.port), self.timeout)
            except OSError as exc:
                error = exc
                continue
            peer = sock.getpeername()[0]
            if not self.allow_private and not is_public(peer):
                sock.close()
                log.warning("Refused webhook to %s: connected to %s", self.target.host, peer)
                raise Refused(NOT_PUBLIC)
            return sock
        raise error


class _PinnedHTTPConnection(_Pinned, http.client.HTTPConnection):
    def connect(self):
        self.sock = self._pinned_socket()


class _PinnedHTTPSConnection(_Pinned, http.client.HTTPSConnection):
    def connect(self):
        # SNI and the certificate's host name are checked against the name, not the address we dialled.
        self.sock = self._context.wrap_socket(self._pinned_socket(), server_hostname=self.target.host)


def post(url: str, body: bytes, headers: dict, *, timeout: float) -> tuple[int | None, str]:
    """POST `body` to `url`: (status code or None, '' or why it failed). Raises Refused for a refused URL."""
    allow_private = settings.KAM_API_WEBHOOK_ALLOW_PRIVATE_URLS
    target = vet(url, allow_private=allow_private)
    if target.scheme == "https":
        connection = _PinnedHTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = _PinnedHTTPConnection(target.host, target.port, timeout=timeout)
    connection.target, connection.allow_private = target, allow_private
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(65536)  # what the receiver says is not ours to keep; read a little to end politely
        if 200 <= response.status < 300:
            return response.status, ""
        return response.status, f"HTTP {response.status} {response.reason}"
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()


_url_shape = URLValidator(
    schemes=["http", "https"], message="Enter an http(s) address, e.g. https://erp.example.com/kam."
)


def validate_webhook_url(value: str) -> None:
    """One rule for a webhook address, wherever it is entered (the settings page, the API).

    It must be a URI as RFC 3986 writes it (plain ASCII: the schema promises `format: uri`), http(s), and
    not resolve to a private address. A name that does not resolve yet is accepted: the receiving system
    may not be in DNS yet, and every delivery checks again.
    """
    if not value.isascii():
        raise ValidationError(
            "Write the address in plain ASCII: an international domain name in its xn-- form, other "
            "characters percent-encoded (%C3%A9 for é).",
            code="not_ascii",
        )
    _url_shape(value)
    if settings.KAM_API_WEBHOOK_ALLOW_PRIVATE_URLS:
        return
    try:
        parts, port = _split(value)
    except Refused:
        raise ValidationError(_url_shape.message, code="invalid") from None
    try:
        addresses = resolve(parts.hostname, port)
    except Refused:
        return
    if not all(is_public(address) for address in addresses):
        log.info("Refused webhook URL %s at registration: resolves to %s", value, ", ".join(addresses))
        raise ValidationError(
            "This address is not public: webhooks go only to addresses on the public internet.",
            code="not_public",
        )
