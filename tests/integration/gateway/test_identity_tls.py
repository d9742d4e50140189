"""The identity certificate on the wire: Kamailio on TLS requires a client certificate.

The gateway's request is signed by a test CA and uploaded into a real store; a Kamailio far end
(``verify_certificate`` and ``require_certificate`` on) relays calls to a sipp far end only over
a TLS connection that presented a certificate from that CA. Without the identity the call fails;
with it (given to the running gateway, no restart) the call completes, and the gateway presents
the same certificate to TLS clients.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from guestjoin.config import GatewayConfig
from guestjoin.gateway import GatewayOptions
from guestjoin.identity import accept_upload, new_request
from guestjoin.proxy import ProxyOptions
from guestjoin.storage import StoreConfig
from otj.commands.runtime import open_configured_database
from otj.store import Database
from tests.integration.service.support import apply

from .dns_server import ZoneServer, meet_zone
from .peers import KAMAILIO_DIR, Kamailio, free_port, running_gateway, scenario, uac, uas
from .pki import ScratchCA
from .sipclient import StreamUac

pytestmark = [pytest.mark.peer]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Database]:
    db = open_configured_database(
        f"sqlite:///{tmp_path / 'otj.db'}", data_dir=str(tmp_path / "var")
    )
    yield db
    db.close()


def far_end_tls(tmp_path: Path, ca: ScratchCA) -> Path:
    """Kamailio's tls.cfg: its certificate for the Meet domain, clients verified against ``ca``."""
    issued = ca.issue("google.pexip.me")
    (tmp_path / "far-cert.pem").write_bytes(issued.cert)
    (tmp_path / "far-key.pem").write_bytes(issued.key)
    text = (KAMAILIO_DIR / "tls_far_tls.cfg").read_text()
    for key, value in {
        "CERTIFICATE": tmp_path / "far-cert.pem",
        "PRIVATE_KEY": tmp_path / "far-key.pem",
        "CA_LIST": ca.write(tmp_path),
    }.items():
        text = text.replace(f"@{key}@", str(value))
    path = tmp_path / "far-tls.cfg"
    path.write_text(text)
    return path


def presented_certificate(port: int, ca_file: Path) -> x509.Certificate:
    """The certificate the gateway presents to a TLS client (verified against ``ca_file``)."""
    import socket

    ctx = ssl.create_default_context(cafile=str(ca_file))
    ctx.check_hostname = False
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


CONFIG = """
call_routing_rules:
  - name: SIP Guest Join
    priority: 10
    match_string: '[a-z\\-]{{10,12}}@google\\.pexip\\.me'
gateway:
  dns_servers: ["{dns}"]
"""


async def test_calls_to_a_far_end_requiring_a_client_certificate_need_the_identity(
    zone: ZoneServer, tmp_path: Path, store: Database
) -> None:
    ca = ScratchCA()
    ca_file = ca.write(tmp_path)
    apply(store, CONFIG.format(dns=zone.address))
    options = GatewayOptions(
        reload_interval=0, tls_ca_file=str(ca_file), proxy=ProxyOptions(failover_timeout=3.0)
    )
    async with running_gateway(GatewayConfig(), options, provider=StoreConfig(store)) as gw:
        far = await uas(tmp_path, "uas_answer.xml")
        tls_port = free_port()
        edge = await Kamailio(
            tmp_path / "kamailio",
            "tls_far.cfg",
            {
                "TLS_PORT": str(tls_port),
                "TLS_CONFIG": str(far_end_tls(tmp_path, ca)),
                "FAR_PORT": str(far.port),
            },
        ).start()
        try:
            zone.set_zone(meet_zone([("127.0.0.1", tls_port)], transport="tls"))
            # no identity: the gateway has no client certificate, Kamailio refuses the TLS
            # connection and the room's call fails (a 500 when the gateway sees the close, else
            # a 408: under TLS 1.3 the server checks the client's certificate after the
            # client's side of the handshake has finished)
            room = await StreamUac.connect("127.0.0.1", gw.tcp_port, tls=False, source="127.0.0.1")
            try:
                outcome = await room.call("abc-defg-hij@google.pexip.me", timeout=15)
            finally:
                room.close()
            assert outcome.invite in (408, 500), outcome
            failed = await gw.ended()
            assert failed.answer_at is None
            assert "tls" in failed.target

            # request, signature by the CA, upload: into the store, as the commands do
            now = dt.datetime.now(dt.UTC)
            request = new_request("gateway.example.com", ["127.0.0.1"], key_type="ec-p256")
            store.identity.save_request("gateway.example.com", request, now=now)
            keys = store.identity.keys()
            signed = ca.sign(request.request_pem)
            accepted = accept_upload(
                signed + ca.pem, pending=keys.pending, active=keys.active, now=now
            )
            store.identity.install(accepted, now=now)
            # the running gateway reloads its configuration (every --reload seconds): no restart
            await gw.gateway.reload()
            (await uac(tmp_path, scenario(tmp_path, "uac_call.xml"), gw.udp)).check()
            (await far.wait()).check()
            done = [c for c in gw.recorder.calls.values() if not c.live and c.answer_at]
            assert len(done) == 1
            assert done[0].cause == "completed"
            presented = await asyncio.to_thread(presented_certificate, gw.tls_port, ca_file)
            assert presented.subject.rfc4514_string() == "CN=gateway.example.com"
            assert presented == x509.load_pem_x509_certificate(signed)
        finally:
            log = await edge.stop()
        assert "client certificate CN=gateway.example.com verified=1" in log, log[-3000:]
