"""``otj gateway identity``: the gateway's TLS certificate (request, upload, status).

The private key is made here, stored encrypted (``otj.store.identity``) and never written out;
the request goes to the certificate authority (for the Pexip Service: Pexip), and the certificate
it returns is uploaded. The running gateway presents it at its next configuration reload.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otj.commands.runtime import echo

if TYPE_CHECKING:
    from otj.store import Database


def _database_arguments(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: ``otj gateway --database URL identity status`` keeps the URL given before
    parser.add_argument(
        "--database", metavar="URL", default=argparse.SUPPRESS, help="as for otj gateway"
    )
    parser.add_argument(
        "--data-dir", metavar="DIR", default=argparse.SUPPRESS, help="as for otj gateway"
    )


def add_to(gateway: argparse.ArgumentParser) -> None:
    """Add ``identity request|upload|status`` under ``otj gateway``."""
    sub = gateway.add_subparsers(dest="gateway_command", metavar="identity")
    identity = sub.add_parser(
        "identity",
        help="the gateway's TLS certificate: request, upload, status",
        description="The certificate the gateway presents on TLS: as its client certificate "
        "to the Pexip Service and as its server certificate to endpoints.",
    )
    actions = identity.add_subparsers(dest="identity_command", metavar="ACTION", required=True)
    request = actions.add_parser(
        "request",
        help="make a new key and write its certificate request (PEM)",
        description="Make a new private key (kept encrypted in the store, never written out) "
        "and write its certificate request. The installed certificate stays in use until the "
        "signed certificate for this request is uploaded.",
    )
    _database_arguments(request)
    request.add_argument(
        "--common-name", required=True, metavar="NAME", help="e.g. the gateway's DNS name"
    )
    request.add_argument(
        "--san",
        action="append",
        default=[],
        metavar="NAME",
        help="a further DNS name or IP address for the certificate (repeatable)",
    )
    request.add_argument(
        "--key-type", choices=["rsa-2048", "rsa-3072", "ec-p256"], default="rsa-2048"
    )
    request.add_argument("--out", metavar="FILE", help="write the request here (default: stdout)")
    request.set_defaults(func=_request)
    upload = actions.add_parser(
        "upload",
        help="install the signed certificate (PEM or DER, with its chain)",
        description="Install the certificate the CA signed for the last request (PEM or DER, "
        "with its chain, or PKCS #7). It replaces the installed one; running gateways present "
        "it from their next configuration reload.",
    )
    _database_arguments(upload)
    upload.add_argument("file", metavar="FILE")
    upload.set_defaults(func=_upload)
    status = actions.add_parser(
        "status",
        help="the installed certificate: subject, issuer, serial, validity, days left",
    )
    _database_arguments(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_status)


def _open(args: argparse.Namespace) -> Database:
    from otj.commands.runtime import open_store

    return open_store(args)


def _request(args: argparse.Namespace) -> int:
    from guestjoin.identity import IdentityError, new_request

    try:
        made = new_request(args.common_name, args.san, key_type=args.key_type)
    except IdentityError as exc:
        echo(f"otj gateway identity request: {exc}", err=True)
        return 2
    db = _open(args)
    try:
        db.identity.save_request(args.common_name.strip(), made, now=datetime.now(UTC))
        installed = db.identity.active_chain() is not None
    finally:
        db.close()
    if args.out:
        Path(args.out).write_bytes(made.request_pem)
        echo(f"certificate request for {args.common_name} written to {args.out}", err=True)
    else:
        sys.stdout.write(made.request_pem.decode())
        sys.stdout.flush()
    echo(
        "the private key stays in the store (encrypted); send the request to the certificate "
        "authority, then: otj gateway identity upload CERTIFICATE-FILE",
        err=True,
    )
    if installed:
        echo("the installed certificate stays in use until then", err=True)
    return 0


def _upload(args: argparse.Namespace) -> int:
    from guestjoin.identity import IdentityError, accept_upload, describe
    from otj.store.identity import check_certificate_alarms

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        echo(f"otj gateway identity upload: cannot read {path}: {exc.strerror}", err=True)
        return 2
    now = datetime.now(UTC)
    db = _open(args)
    try:
        keys = db.identity.keys()
        try:
            accepted = accept_upload(data, pending=keys.pending, active=keys.active, now=now)
        except IdentityError as exc:
            echo(f"otj gateway identity upload: {path}: {exc}", err=True)
            return 1
        db.identity.install(accepted, now=now)
        check_certificate_alarms(db, now=now)
    finally:
        db.close()
    status = describe(accepted.chain_pem, now=now)
    echo(
        f"installed {status.subject} (issuer {status.issuer}, serial {status.serial}), "
        f"valid until {status.not_after:%Y-%m-%d %H:%M} UTC ({status.days_left} days); "
        "running gateways present it from their next configuration reload"
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    from otj.store.identity import check_certificate_alarms

    now = datetime.now(UTC)
    db = _open(args)
    try:
        status = db.identity.status(now=now)
        pending = db.identity.pending()
        alarm = check_certificate_alarms(db, now=now)
    finally:
        db.close()
    out: dict[str, Any] = {
        "certificate": None,
        "pending_request": None,
        "alarm": alarm.kind if alarm else None,
    }
    if status is not None:
        out["certificate"] = {
            "subject": status.subject,
            "issuer": status.issuer,
            "serial": status.serial,
            "not_before": status.not_before.isoformat(),
            "not_after": status.not_after.isoformat(),
            "days_left": status.days_left,
            "names": list(status.names),
            "chain_length": status.chain_length,
        }
    if pending is not None:
        out["pending_request"] = {
            "common_name": pending.common_name,
            "requested_at": pending.requested_at.isoformat(),
        }
    if args.json:
        echo(json.dumps(out, indent=2))
        return 0
    if status is None:
        echo("no identity certificate installed (otj gateway identity request, then upload)")
    else:
        rows = [
            ("subject", status.subject),
            ("issuer", status.issuer),
            ("serial", status.serial),
            ("not before", f"{status.not_before:%Y-%m-%d %H:%M} UTC"),
            ("not after", f"{status.not_after:%Y-%m-%d %H:%M} UTC"),
            ("days left", str(status.days_left)),
            ("names", ", ".join(status.names) or "-"),
            ("chain", f"{status.chain_length} certificate(s)"),
        ]
        for label, value in rows:
            echo(f"{label + ':':<12}{value}")
    if pending is not None:
        echo(
            f"pending request: {pending.common_name} "
            f"(made {pending.requested_at:%Y-%m-%d %H:%M} UTC, awaiting its certificate)"
        )
    if alarm is not None:
        echo(f"alarm {alarm.kind}: {alarm.message}")
    return 0
