"""Partner and key admin: a key status in words; staff actions on keys and fees in the admin log."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone
from factories import make_api_key, make_partner

from audit.services import Actor
from customers import services
from customers.models import Partner, PartnerApiKey

pytestmark = pytest.mark.django_db

KEYS = "/admin/customers/partnerapikey/"


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("operator-bo", "bo@example.com", "pw")
    client.force_login(user)
    return client


def entries_for(model) -> list[LogEntry]:
    content_type = ContentType.objects.get_for_model(model)
    return list(LogEntry.objects.filter(content_type=content_type).order_by("id"))


def test_the_key_list_says_active_or_revoked_in_a_status_column(staff):
    partner = make_partner(name="Acme")
    active, _ = make_api_key(partner=partner)
    revoked, _ = make_api_key(partner=partner)
    services.partner_api_key_revoke(actor=Actor.system("test"), api_key=revoked, now=timezone.now())

    response = staff.get(KEYS)

    content = response.content.decode()
    assert "column-key_status" in content
    rows = {key.pk: row for key in (active, revoked) for row in content.split("<tr") if str(key) in row}
    assert '<td class="field-key_status">active</td>' in rows[active.pk]
    assert '<td class="field-key_status">revoked</td>' in rows[revoked.pk]
    # No boolean icon anywhere on the list: a tick next to a revoked key read as "fine".
    assert "icon-yes.svg" not in content
    assert "icon-no.svg" not in content


def test_creating_a_key_is_in_the_admin_log_with_who_created_it(staff):
    partner = make_partner(name="Acme")

    staff.post(
        reverse("admin:customers_partner_changelist"),
        {"action": "create_api_key", "_selected_action": [partner.pk]},
    )

    api_key = PartnerApiKey.objects.get(partner=partner)
    [entry] = entries_for(PartnerApiKey)
    assert (entry.user.username, entry.action_flag, entry.object_id) == (
        "operator-bo",
        ADDITION,
        str(api_key.pk),
    )
    assert entry.get_change_message() == f"Created read_write API key {api_key} for partner Acme."
    assert api_key.key_hash not in entry.change_message


def test_revoking_a_key_is_in_the_admin_log_and_a_second_revoke_adds_nothing(staff):
    api_key, _ = make_api_key(partner=make_partner(name="Acme"))
    selection = {"action": "revoke", "_selected_action": [api_key.pk]}

    staff.post(KEYS, selection)
    staff.post(KEYS, selection)

    [entry] = entries_for(PartnerApiKey)
    assert (entry.user.username, entry.action_flag) == ("operator-bo", CHANGE)
    assert entry.get_change_message() == f"Revoked API key {api_key}."


def test_a_fee_change_is_in_the_admin_log_with_its_old_and_new_value(staff):
    partner = make_partner(name="Acme", fee_bps=25)
    form = {"name": "Acme", "status": "active", "affiliate_address": "", "revenue_share_bps": "0"}
    change = reverse("admin:customers_partner_change", args=[partner.pk])

    assert staff.post(change, {**form, "fee_bps": "40"}).status_code == 302
    assert staff.post(change, {**form, "fee_bps": ""}).status_code == 302

    to_forty, to_default = entries_for(Partner)
    assert to_forty.user.username == "operator-bo"
    assert to_forty.get_change_message() == "Changed Fee bps. Fee changed from 25 bps to 40 bps."
    assert to_default.get_change_message().endswith("Fee changed from 40 bps to the escrow config's default.")


def test_a_partner_change_that_leaves_the_fee_alone_keeps_django_s_message(staff):
    partner = make_partner(name="Acme", fee_bps=25)
    form = {
        "name": "Acme Ltd",
        "status": "active",
        "fee_bps": "25",
        "affiliate_address": "",
        "revenue_share_bps": "0",
    }

    staff.post(reverse("admin:customers_partner_change", args=[partner.pk]), form)

    [entry] = entries_for(Partner)
    assert entry.get_change_message() == "Changed Name."


def test_retrying_provisioning_is_in_the_admin_log(staff, customer_tasks):
    from factories import make_customer

    from customers.models import Customer

    customer = make_customer(status=Customer.Status.PROVISIONING, provisioning_error="Parsec said no.")

    staff.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "retry_provisioning", "_selected_action": [str(customer.pk)]},
    )

    [entry] = entries_for(Customer)
    assert (entry.user.username, entry.object_id) == ("operator-bo", str(customer.pk))
    assert entry.get_change_message() == "Queued provisioning at Parsec again."
