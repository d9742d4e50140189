"""profiles: endpoint API defaults; endpoints: port, HTTPS and verification may be inherited

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 10:00:00.000000

A profile gains the defaults of its endpoints' API settings (username, sealed password, HTTPS,
certificate verification, Basic or session login, HttpFeedback slot). An endpoint's
``api_port``, ``use_https`` and ``verify_cert`` become nullable: NULL means "the profile's"
(and, for the port, the scheme's). Stored endpoints keep the values they have.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "endpoint_api_username", sa.String(length=255), nullable=False, server_default=""
            )
        )
        batch_op.add_column(sa.Column("endpoint_api_password", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("endpoint_use_https", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column(
                "endpoint_verify_cert", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )
        batch_op.add_column(
            sa.Column(
                "endpoint_api_auth", sa.String(length=16), nullable=False, server_default="basic"
            )
        )
        batch_op.add_column(
            sa.Column(
                "endpoint_feedback_slot",
                sa.Integer(),
                nullable=False,
                server_default=sa.text("1"),
            )
        )
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.alter_column("api_port", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("use_https", existing_type=sa.Boolean(), nullable=True)
        batch_op.alter_column("verify_cert", existing_type=sa.Boolean(), nullable=True)


def downgrade() -> None:
    """Revert this revision: each endpoint gets explicitly what it inherited from its profile."""
    profile_of = (
        "(SELECT p.{column} FROM endpoint_groups g JOIN profiles p ON p.name = g.profile "
        'WHERE g.name = endpoints."group")'
    )
    for field, column, missing in (
        ("use_https", "endpoint_use_https", "use_https IS NULL"),
        ("verify_cert", "endpoint_verify_cert", "verify_cert IS NULL"),
        ("api_username", "endpoint_api_username", "api_username = ''"),
        # SQLAlchemy's JSON type stores None as JSON null unless told otherwise
        (
            "api_password",
            "endpoint_api_password",
            "(api_password IS NULL OR CAST(api_password AS TEXT) = 'null')",
        ),
    ):
        op.execute(
            sa.text(
                f"UPDATE endpoints SET {field} = {profile_of.format(column=column)} "  # noqa: S608
                f"WHERE {missing}"
            )
        )
    endpoints = sa.table(
        "endpoints",
        sa.column("api_port", sa.Integer()),
        sa.column("use_https", sa.Boolean()),
        sa.column("verify_cert", sa.Boolean()),
    )
    # an endpoint without a group row cannot exist (foreign key), but stay total anyway
    op.execute(endpoints.update().where(endpoints.c.use_https.is_(None)).values(use_https=True))
    op.execute(endpoints.update().where(endpoints.c.verify_cert.is_(None)).values(verify_cert=True))
    op.execute(
        endpoints.update()
        .where(endpoints.c.api_port.is_(None))
        .values(api_port=sa.case((endpoints.c.use_https.is_(sa.false()), 80), else_=443))
    )
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.alter_column("verify_cert", existing_type=sa.Boolean(), nullable=False)
        batch_op.alter_column("use_https", existing_type=sa.Boolean(), nullable=False)
        batch_op.alter_column("api_port", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_column("endpoint_feedback_slot")
        batch_op.drop_column("endpoint_api_auth")
        batch_op.drop_column("endpoint_verify_cert")
        batch_op.drop_column("endpoint_use_https")
        batch_op.drop_column("endpoint_api_password")
        batch_op.drop_column("endpoint_api_username")
