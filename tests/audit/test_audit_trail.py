"""The audit trail: rows as written, the actor and address they name, and a trail nobody can rewrite."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from django.urls import reverse
from factories import make_api_key, make_partner

from audit.models import AuditAction, AuditEntry
from audit.services import Actor, audit_actor, audit_record, client_ip

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _entry(
    *, partner=None, action=AuditAction.FEE_CHANGED, summary="fee 10 -> 20 bps", now=NOON
) -> AuditEntry:
    return audit_record(
        action=action,
        actor=Actor.system("test"),
        target_type="partner",
        target_id=partner.pk if partner else "",
        partner_id=partner.pk if partner else None,
        summary=summary,
        before={"fee_bps": 10},
        after={"fee_bps": 20},
        now=now,
    )


def test_a_partner_key_actor_is_named_by_its_public_prefix_and_never_by_the_key():
    partner = make_partner()
    api_key, raw_key = make_api_key(partner=partner)
    request = RequestFactory().post("/api/v1/api-keys", REMOTE_ADDR="203.0.113.9")
    request.auth = api_key

    entry = audit_record(
        action=AuditAction.API_KEY_CREATED,
        actor=audit_actor(request),
        target_type="api_key",
        target_id=api_key.pk,
        partner_id=partner.pk,
        summary="key created",
    )

    entry.refresh_from_db()
    assert (entry.actor_type, entry.actor_key_prefix, entry.ip) == (
        "partner_key",
        api_key.prefix,
        "203.0.113.9",
    )
    assert entry.actor_label == f"key bp_{api_key.prefix}…"
    # Every row, the factory's own api_key.created among them.
    stored = " ".join(str(value) for row in AuditEntry.objects.values_list() for value in row)
    assert raw_key not in stored
    assert api_key.key_hash not in stored


def test_a_staff_actor_is_named_by_user(admin_user):
    request = RequestFactory().post("/admin/", REMOTE_ADDR="198.51.100.4")
    request.user = admin_user

    actor = audit_actor(request)

    assert (actor.type, actor.user_id, actor.label, actor.ip) == (
        "staff",
        admin_user.pk,
        f"staff {admin_user.username}",
        "198.51.100.4",
    )


def test_an_unknown_action_is_refused_before_anything_is_written():
    with pytest.raises(ValueError, match=r"fee\.guessed"):
        audit_record(action="fee.guessed", actor=Actor.system("x"), target_type="t", summary="s")
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "1.2.3.4", "10.0.0.1"),  # no proxy of ours: a client-written header is ignored
        (1, "1.2.3.4", "1.2.3.4"),
        (1, "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the client prepended a lie; our proxy appended the truth
        (2, "1.2.3.4, 172.16.0.2", "1.2.3.4"),
        (2, "1.2.3.4", "1.2.3.4"),  # fewer hops than proxies: the farthest one written
        (1, "not-an-address", "10.0.0.1"),
    ],
)
def test_the_client_address_trusts_only_our_own_proxies(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_the_database_or_the_admin_refuses_to_rewrite_an_entry(admin_client):
    entry = _entry(partner=make_partner())

    if connection.vendor == "postgresql":
        for change in (
            lambda: AuditEntry.objects.filter(pk=entry.pk).update(summary="nothing happened"),
            lambda: AuditEntry.objects.filter(pk=entry.pk).delete(),
        ):
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                change()
    change_url = reverse("admin:audit_auditentry_change", args=[entry.pk])
    delete_url = reverse("admin:audit_auditentry_delete", args=[entry.pk])
    assert admin_client.post(change_url, {"summary": "nothing happened"}).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert admin_client.get(reverse("admin:audit_auditentry_add")).status_code == 403
    entry.refresh_from_db()
    assert entry.summary == "fee 10 -> 20 bps"


def test_the_admin_lists_filters_and_exports_the_matching_entries_as_csv(admin_client):
    alpha, beta = make_partner(name="alpha"), make_partner(name="beta")
    _entry(partner=alpha, summary='=HYPERLINK("http://evil")')
    _entry(partner=beta, action=AuditAction.HALT_SET, summary="beta halted")

    listing = admin_client.get(reverse("admin:audit_auditentry_changelist"), {"action": "halt.set"})
    assert listing.status_code == 200
    assert b"beta halted" in listing.content
    assert b"HYPERLINK" not in listing.content

    export = admin_client.get(reverse("admin:audit_auditentry_export"), {"partner__id__exact": alpha.pk})
    assert export.status_code == 200
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert len(rows) == 1
    assert rows[0]["action"] == "fee.changed"
    assert rows[0]["partner_id"] == str(alpha.pk)
    # Quoted so a spreadsheet shows the text instead of running it.
    assert rows[0]["summary"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["before"] == '{"fee_bps": 10}'
    assert rows[0]["created_at"] == NOON.isoformat()


def test_the_audit_trail_is_for_staff_only(client, django_user_model):
    _entry()
    user = django_user_model.objects.create_user(username="visitor", password="x" * 12)
    client.force_login(user)
    assert client.get(reverse("admin:audit_auditentry_export")).status_code == 302  # to the admin login
