"""Staff actions in the admin on partners and keys write exactly one audit row each, naming the staff
user and the address; a refused or empty change writes none."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from factories import make_api_key, make_partner

from audit.models import AuditEntry
from customers.models import PartnerApiKey

pytestmark = pytest.mark.django_db

STAFF_IP = "198.51.100.23"
FORM = {"name": "Acme", "status": "active", "affiliate_address": "", "revenue_share_bps": "0"}


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("operator-al", "al@example.com", "pw")
    client.force_login(user)
    client.defaults["REMOTE_ADDR"] = STAFF_IP
    return client, user


def only(action: str) -> AuditEntry:
    [entry] = AuditEntry.objects.filter(action=action)
    return entry


def assert_staff(entry: AuditEntry, user, partner) -> None:
    assert (entry.actor_type, entry.actor_user_id, entry.actor_label) == (
        "staff",
        user.pk,
        "staff operator-al",
    )
    assert (entry.partner_id, entry.ip) == (partner.pk, STAFF_IP)


def test_a_fee_change_in_the_admin_is_one_row_with_the_old_and_the_new_fee(staff):
    client, user = staff
    partner = make_partner(name="Acme", fee_bps=25)
    change = reverse("admin:customers_partner_change", args=[partner.pk])

    assert client.post(change, {**FORM, "fee_bps": "40"}).status_code == 302

    entry = only("fee.changed")
    assert_staff(entry, user, partner)
    assert (entry.target_type, entry.target_id) == ("partner", str(partner.pk))
    assert (entry.before, entry.after) == ({"fee_bps": 25}, {"fee_bps": 40})


def test_a_refused_fee_and_a_save_that_changes_no_money_write_no_row(staff):
    client, _ = staff
    partner = make_partner(name="Acme", fee_bps=25)
    change = reverse("admin:customers_partner_change", args=[partner.pk])

    refused = client.post(change, {**FORM, "fee_bps": "20000"})
    renamed = client.post(change, {**FORM, "name": "Acme Ltd", "fee_bps": "25"})

    assert refused.status_code == 200  # the form again, with the error
    assert renamed.status_code == 302
    assert not AuditEntry.objects.filter(action="fee.changed").exists()


def test_a_revenue_share_change_is_audited_as_a_fee_change(staff):
    client, user = staff
    partner = make_partner(name="Acme", fee_bps=25, revenue_share_bps=1000)
    change = reverse("admin:customers_partner_change", args=[partner.pk])

    assert client.post(change, {**FORM, "fee_bps": "25", "revenue_share_bps": "1500"}).status_code == 302

    entry = only("fee.changed")
    assert_staff(entry, user, partner)
    assert (entry.before, entry.after) == ({"revenue_share_bps": 1000}, {"revenue_share_bps": 1500})
    partner.refresh_from_db()
    assert (partner.revenue_share_bps, partner.fee_bps) == (1500, 25)


@pytest.mark.parametrize(
    ("action", "scope"), [("create_api_key", "read_write"), ("create_read_api_key", "read")]
)
def test_a_key_created_by_staff_is_one_row_with_its_scope(staff, action, scope):
    client, user = staff
    partner = make_partner(name="Acme")

    client.post(
        reverse("admin:customers_partner_changelist"), {"action": action, "_selected_action": [partner.pk]}
    )

    api_key = PartnerApiKey.objects.get(partner=partner)
    assert api_key.scope == scope
    entry = only("api_key.created")
    assert_staff(entry, user, partner)
    assert (entry.target_type, entry.target_id, entry.after["scope"]) == ("api_key", str(api_key.pk), scope)


def test_a_key_revoked_by_staff_is_one_row_even_the_last_write_key(staff):
    client, user = staff
    partner = make_partner(name="Acme")
    api_key, _ = make_api_key(partner=partner)
    selection = {"action": "revoke", "_selected_action": [api_key.pk]}

    client.post("/admin/customers/partnerapikey/", selection)
    client.post("/admin/customers/partnerapikey/", selection)  # already revoked: no second row

    entry = only("api_key.revoked")
    assert_staff(entry, user, partner)
    assert entry.target_id == str(api_key.pk)
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
