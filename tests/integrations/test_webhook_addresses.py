"""Webhooks reach only public addresses: vetted once, connected to as vetted, never redirected (issue 17).

DNS answers and the internet are what leave the machine, so they are faked: `resolver` answers for names under
.test, and `network` stands in for every connection to an address that is not 127.0.0.1 (it records the
address and refuses, or, to play a network that delivers elsewhere, connects to a local server instead).
"""

import http.server
import json
import shutil
import socket
import ssl
import subprocess
import threading
from unittest import mock

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from integrations import outbound, webhooks
from integrations.models import ApiKey, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from kam.api.scopes import ApiScope
from tests.conftest import need

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"
PRIVATE_ONLY = override_settings(KAM_API_WEBHOOK_ALLOW_PRIVATE_URLS=False, KAM_API_WEBHOOK_TIMEOUT_SECONDS=2)

# (address, public?) — every non-global address, including the IPv4 inside the forms that embed one.
ADDRESSES = [
    ("127.0.0.1", False),
    ("10.0.0.1", False),
    ("172.16.5.4", False),
    ("192.168.1.1", False),
    ("169.254.169.254", False),  # cloud metadata
    ("100.64.0.1", False),  # carrier-grade NAT
    ("0.0.0.0", False),  # noqa: S104 (an address to refuse, not to bind)
    ("224.0.0.1", False),  # multicast
    ("239.255.255.250", False),
    ("255.255.255.255", False),
    ("::1", False),
    ("::", False),
    ("fe80::1", False),
    ("fc00::1", False),
    ("fec0::1", False),  # site-local
    ("ff02::1", False),  # multicast
    ("ff0e::1", False),  # global-scope multicast
    ("::ffff:127.0.0.1", False),  # IPv4-mapped
    ("::ffff:10.0.0.1", False),
    ("::127.0.0.1", False),  # IPv4-compatible
    ("::8.8.8.8", False),  # IPv4-compatible: deprecated, routed nowhere public
    ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
    ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
    ("64:ff9b:1::808:808", False),  # local-use NAT64
    ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
    ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
    ("2001:db8::1", False),  # documentation
    ("2001::1", False),  # Teredo
    ("8.8.8.8", True),
    (PUBLIC, True),
    ("2606:4700::1111", True),
    ("::ffff:8.8.8.8", True),
    ("64:ff9b::808:808", True),  # NAT64 of a public address (what DNS64 answers on an IPv6-only network)
    ("2002:808:808::1", True),
]
REFUSED = [address for address, public in ADDRESSES if not public]


def url_for(address: str, port: int = 80) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}/hooks/kam"


class Receiver:
    """A real HTTP server on 127.0.0.1 recording every request; answers `status` with optional headers."""

    def __init__(self, status=200, headers=None):
        self.requests = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "host": self.headers["Host"], "body": body})
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/kam"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def resolver():
    """Fake DNS for names ending in .test: answers[name] is a list of answers, one per lookup (last repeats)."""
    real = socket.getaddrinfo
    answers: dict[str, list] = {}
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if not str(host).endswith(".test"):
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        script = answers[host]
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, Exception):
            raise answer
        family = socket.AF_INET6 if ":" in answer else socket.AF_INET
        sockaddr = (answer, port, 0, 0) if family == socket.AF_INET6 else (answer, port)
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]

    with mock.patch("socket.getaddrinfo", getaddrinfo):
        yield answers, lookups


@pytest.fixture
def network():
    """Connections to anything but 127.0.0.1 never leave the machine: recorded, then refused (or redirected)."""
    real = socket.create_connection
    dialled: list[str] = []
    state = {"deliver_to": None}

    def create_connection(address, *args, **kwargs):
        host, port = address[0], address[1]
        if host == "127.0.0.1" or not _is_ip(host):
            return real(address, *args, **kwargs)  # a name is resolved by the (faked) resolver
        dialled.append(host)
        if state["deliver_to"] is not None:  # a network that hands the connection to someone else
            return real(("127.0.0.1", state["deliver_to"]), *args, **kwargs)
        raise ConnectionRefusedError(f"[fake internet] {host}:{port} refused")

    with mock.patch("socket.create_connection", create_connection):
        yield dialled, state


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


@pytest.fixture
def key_for(world):
    """An API client with a read key of the integration user (made by a manager, as the settings page does)."""

    def make(user, scopes):
        _, raw = ApiKey.issue(name="test key", user=user, scopes=scopes, created_by=world.manager)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make


def attempt(owner, url) -> WebhookDelivery:
    hook = WebhookEndpoint.objects.create(owner=owner, url=url, events=["run.succeeded"], secret="whsec_x")
    delivery = WebhookDelivery.objects.create(endpoint=hook, event="run.succeeded", payload={"id": "evt_1"})
    webhooks.webhook_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


# --- Which addresses are public -----------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "public"), ADDRESSES)
def test_only_global_addresses_and_their_embedded_ipv4_are_public(address, public):
    assert outbound.is_public(address) is public


@PRIVATE_ONLY
@pytest.mark.parametrize("address", REFUSED)
def test_a_delivery_to_a_non_public_address_is_refused_without_connecting(world, network, address):
    dialled, _ = network
    delivery = attempt(world.integration, url_for(address, 9))
    assert (delivery.status, delivery.error) == (DeliveryStatus.FAILED, "refused: the address is not public")
    assert dialled == []


# --- DNS rebinding, the peer check, redirects ---------------------------------------------------------------


@PRIVATE_ONLY
def test_a_name_that_rebinds_to_loopback_after_the_check_receives_nothing(world, resolver, network):
    """The name answers a public address to the check and 127.0.0.1 to whoever asks next."""
    answers, lookups = resolver
    dialled, _ = network
    with Receiver() as inside:
        answers["hooks.rebind.test"] = [PUBLIC, "127.0.0.1"]
        delivery = attempt(world.integration, f"http://hooks.rebind.test:{inside.port}/hooks/kam")
    assert inside.requests == []  # the signed POST never reached the loopback server
    assert dialled == [PUBLIC]  # the connection went to the vetted address, and only there
    assert lookups == ["hooks.rebind.test"]  # resolved once
    assert delivery.status == DeliveryStatus.RETRYING  # the public address refused: an ordinary failure
    assert delivery.error.startswith("ConnectionRefusedError")


@PRIVATE_ONLY
def test_a_connection_that_ends_up_inside_is_refused_before_anything_is_sent(world, resolver, network):
    """The peer is checked once connected: a network that hands a public address to 127.0.0.1 gets nothing."""
    answers, _ = resolver
    dialled, state = network
    with Receiver() as inside:
        answers["hooks.nat.test"] = [PUBLIC]
        state["deliver_to"] = inside.port
        delivery = attempt(world.integration, f"http://hooks.nat.test:{inside.port}/hooks/kam")
    assert dialled == [PUBLIC]
    assert inside.requests == []
    assert (delivery.status, delivery.error) == (DeliveryStatus.FAILED, "refused: the address is not public")


@override_settings(KAM_API_WEBHOOK_ALLOW_PRIVATE_URLS=True)
def test_a_pinned_delivery_still_sends_the_name_as_host(world, resolver):
    answers, _ = resolver
    with Receiver() as receiver:
        answers["hooks.local.test"] = ["127.0.0.1"]
        delivery = attempt(world.integration, f"http://hooks.local.test:{receiver.port}/hooks/kam?x=1")
    assert delivery.status == DeliveryStatus.SUCCEEDED
    (request,) = receiver.requests
    assert (request["host"], request["path"]) == (f"hooks.local.test:{receiver.port}", "/hooks/kam?x=1")


@override_settings(KAM_API_WEBHOOK_ALLOW_PRIVATE_URLS=True)
def test_a_redirect_is_not_followed(world):
    with Receiver() as elsewhere, Receiver(status=307, headers={"Location": elsewhere.url}) as redirecting:
        delivery = attempt(world.integration, redirecting.url)
    assert len(redirecting.requests) == 1
    assert elsewhere.requests == []
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.error == "HTTP 307 Temporary Redirect"


# --- What the delivery log tells a read-scope key -------------------------------------------------------------


@PRIVATE_ONLY
def test_the_delivery_log_does_not_echo_resolver_details(world, resolver, key_for):
    answers, _ = resolver
    answers["inside.test"] = ["10.1.2.3"]
    answers["nowhere.test"] = [socket.gaierror(-2, "Name or service not known")]
    client = key_for(world.integration, [ApiScope.READ])
    refused = attempt(world.integration, "https://inside.test/hooks")
    unresolved = attempt(world.integration, "https://nowhere.test/hooks")
    logs = {
        delivery.pk: client.get(f"/api/v1/webhooks/{delivery.endpoint_id}/deliveries/").json()["results"][0]
        for delivery in (refused, unresolved)
    }
    assert logs[refused.pk]["error"] == "refused: the address is not public"
    assert logs[unresolved.pk]["error"] == "refused: the host name could not be resolved"
    shown = json.dumps(logs)
    assert "10.1.2.3" not in shown
    assert "Name or service not known" not in shown


# --- Registering an endpoint: one validator for the page and the API ----------------------------------------


@PRIVATE_ONLY
@pytest.mark.parametrize("address", REFUSED)
def test_the_api_refuses_to_register_a_non_public_address(world, key_for, address):
    client = key_for(world.integration, [ApiScope.READ])
    response = client.post(
        "/api/v1/webhooks/", {"url": url_for(address), "events": ["run.succeeded"]}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["errors"]["url"] == [
        "This address is not public: webhooks go only to addresses on the public internet."
    ]
    assert not WebhookEndpoint.objects.exists()


@PRIVATE_ONLY
def test_a_name_that_resolves_inside_is_refused_at_registration(world, key_for, resolver):
    answers, _ = resolver
    answers["intranet.test"] = ["192.168.0.10"]
    answers["erp.test"] = [PUBLIC]
    client = key_for(world.integration, [ApiScope.READ])
    inside = client.post("/api/v1/webhooks/", {"url": "https://intranet.test/k", "events": ["run.succeeded"]})
    assert inside.status_code == 400
    assert "192.168.0.10" not in inside.content.decode()
    public = client.post("/api/v1/webhooks/", {"url": "https://erp.test/k", "events": ["run.succeeded"]})
    assert public.status_code == 201


@PRIVATE_ONLY
def test_the_settings_page_refuses_a_private_address(world):
    client = Client()
    client.force_login(world.manager)
    response = client.post(
        "/settings/integrations/webhooks/new/",
        {"url": "http://169.254.169.254/latest", "owner": world.manager.pk, "events": ["run.succeeded"]},
    )
    assert response.status_code == 200
    assert "This address is not public" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


NOT_A_URI = "https://bücher.example.com/kam"


def test_the_api_refuses_an_address_that_is_not_a_uri(world, key_for):
    client = key_for(world.integration, [ApiScope.READ])
    response = client.post(
        "/api/v1/webhooks/", {"url": NOT_A_URI, "events": ["run.succeeded"]}, format="json"
    )
    assert response.status_code == 400
    assert "plain ASCII" in response.json()["errors"]["url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_the_settings_page_refuses_an_address_that_is_not_a_uri(world):
    client = Client()
    client.force_login(world.manager)
    response = client.post(
        "/settings/integrations/webhooks/new/",
        {"url": NOT_A_URI, "owner": world.manager.pk, "events": ["run.succeeded"]},
    )
    assert response.status_code == 200
    assert "plain ASCII" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


# --- TLS: the pinned connection still checks the certificate against the name -------------------------------


@pytest.fixture
def tls_receiver(tmp_path):
    """A local HTTPS server whose self-signed certificate names hooks.tls.test; yields (port, CA file, SNI)."""
    openssl = shutil.which("openssl")
    need(openssl is not None, "needs the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    name = "hooks.tls.test"
    command = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    command += ["-nodes", "-days", "1", "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}"]
    command += ["-addext", f"subjectAltName=DNS:{name}"]
    subprocess.run(command, check=True, capture_output=True)  # noqa: S603 (fixed arguments)
    receiver = Receiver(status=204)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server_names: list[str] = []
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    with receiver:
        yield receiver, cert, server_names


@override_settings(KAM_API_WEBHOOK_ALLOW_PRIVATE_URLS=True)
def test_an_https_delivery_sends_the_name_for_sni_and_verifies_the_certificate_against_it(
    world, resolver, tls_receiver
):
    answers, _ = resolver
    receiver, cert, server_names = tls_receiver
    answers["hooks.tls.test"] = answers["impostor.test"] = ["127.0.0.1"]
    untrusted = attempt(world.integration, f"https://hooks.tls.test:{receiver.port}/k")
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.error  # a self-signed certificate is not trusted

    real_context = ssl.create_default_context

    def trusting_our_certificate(*args, **kwargs):
        context = real_context(*args, **kwargs)
        context.load_verify_locations(cert)
        return context

    with mock.patch("ssl.create_default_context", trusting_our_certificate):
        delivered = attempt(world.integration, f"https://hooks.tls.test:{receiver.port}/k")
        impostor = attempt(world.integration, f"https://impostor.test:{receiver.port}/k")
    assert delivered.status == DeliveryStatus.SUCCEEDED
    assert receiver.requests[0]["host"] == f"hooks.tls.test:{receiver.port}"
    assert "hooks.tls.test" in server_names
    assert "Hostname mismatch" in impostor.error  # the certificate is checked against the URL's name
    assert len(receiver.requests) == 1
