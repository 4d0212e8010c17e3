"""A partner's own API limit changed in the admin: each change is one audit row naming the staff user."""

from __future__ import annotations

import pytest
from django.urls import reverse
from factories import make_partner

from audit.models import AuditEntry
from ratelimits.models import PartnerRateLimit

pytestmark = pytest.mark.django_db


def test_setting_changing_and_removing_a_partners_limit_is_audited(admin_client, admin_user):
    partner = make_partner(name="Throttled")
    add = reverse("admin:ratelimits_partnerratelimit_add")
    body = {"partner": partner.pk, "rate_per_second": 5, "burst": 10}
    assert admin_client.post(add, body, REMOTE_ADDR="198.51.100.7").status_code == 302
    limit = PartnerRateLimit.objects.get(partner=partner)
    change = reverse("admin:ratelimits_partnerratelimit_change", args=[limit.pk])
    assert admin_client.post(change, {**body, "burst": 20}).status_code == 302
    assert admin_client.post(change, {**body, "burst": 20}).status_code == 302  # no change: no row
    delete = reverse("admin:ratelimits_partnerratelimit_delete", args=[limit.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302

    assert not PartnerRateLimit.objects.exists()
    rows = list(AuditEntry.objects.order_by("id"))
    assert [(row.action, row.before, row.after) for row in rows] == [
        ("rate_limit.changed", None, {"rate_per_second": 5, "burst": 10}),
        ("rate_limit.changed", {"rate_per_second": 5, "burst": 10}, {"rate_per_second": 5, "burst": 20}),
        ("rate_limit.changed", {"rate_per_second": 5, "burst": 20}, None),
    ]
    assert {(row.actor_user_id, row.partner_id, row.target_id) for row in rows} == {
        (admin_user.pk, partner.pk, str(partner.pk))
    }
    assert rows[0].ip == "198.51.100.7"
