"""Admin: the escrow config and its refresh, fee authorizations, the ledger's totals and the daily chart."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone
from fees_support import escrowed, parsec_down, parsec_escrow_config, store_escrow_config

from fees import services
from fees.models import EscrowConfig, FeeLedgerEntry


@pytest.fixture
def escrow_config(db) -> EscrowConfig:
    # Fetched just now: the admin pages run on the real clock.
    return store_escrow_config(now=timezone.now())


@pytest.fixture
def ledger(fee_customer, request_fee):
    """One fee in escrow (0.137500 USDC), a quarter filled, then settled; dated today for the chart."""
    now = timezone.now()
    authorization = request_fee(now=now)
    authorization = escrowed(authorization, signature=fee_customer.sign(authorization), now=now)
    services.fee_ledger_record_fill(
        fee_authorization=authorization, fill_id="f1", filled_total=Decimal(25), size=Decimal(100), now=now
    )
    services.fee_ledger_record_final(
        fee_authorization=authorization, filled_total=Decimal(25), size=Decimal(100), now=now
    )
    authorization.refresh_from_db()
    return authorization


def test_the_refresh_button_fetches_the_config_from_parsec(admin_client, fake_parsec):
    fake_parsec.answers = [parsec_escrow_config(fee_bps=33)]
    changelist = admin_client.get(reverse("admin:fees_escrowconfig_changelist"))
    assert b"Refresh from Parsec now" in changelist.content
    response = admin_client.post(reverse("admin:fees_escrowconfig_refresh"), follow=True)
    assert response.status_code == 200
    assert EscrowConfig.objects.get().fee_bps == 33
    assert b"Escrow config refreshed" in response.content
    [entry] = LogEntry.objects.all()  # who refreshed it, in the admin log
    assert (entry.user_id, entry.get_change_message()) == (
        response.wsgi_request.user.pk,
        "Refreshed from Parsec: 33 bps by default.",
    )


def test_a_failed_refresh_says_so_and_keeps_the_last_config(admin_client, fake_parsec, escrow_config):
    fake_parsec.answers = [parsec_down()]
    response = admin_client.post(reverse("admin:fees_escrowconfig_refresh"), follow=True)
    assert b"Refresh failed" in response.content
    assert EscrowConfig.objects.get().fee_bps == escrow_config.fee_bps


def test_the_refresh_action_works_on_the_selected_config(admin_client, fake_parsec, escrow_config):
    fake_parsec.answers = [parsec_escrow_config(fee_bps=41)]
    admin_client.post(
        reverse("admin:fees_escrowconfig_changelist"),
        {"action": "refresh", "_selected_action": [escrow_config.pk]},
    )
    assert EscrowConfig.objects.get().fee_bps == 41


def test_the_config_is_read_only(admin_client, escrow_config):
    page = admin_client.get(reverse("admin:fees_escrowconfig_change", args=[escrow_config.pk]))
    assert page.status_code == 200
    assert b'name="fee_bps"' not in page.content
    assert admin_client.get(reverse("admin:fees_escrowconfig_add")).status_code == 403


def test_a_fee_authorization_shows_its_typed_data_signature_and_signer(admin_client, ledger):
    page = admin_client.get(reverse("admin:fees_feeauthorization_change", args=[ledger.pk]))
    content = page.content.decode()
    assert "&quot;primaryType&quot;: &quot;PullFee&quot;" in content  # pretty-printed JSON, escaped
    assert ledger.signature in content
    assert ledger.recovered_signer in content
    assert "Settled" in content


@pytest.mark.parametrize("field", ["escrow_order_id", "payer", "signer"])
def test_fee_authorizations_are_found_by_escrow_order_id_payer_or_signer(admin_client, ledger, field):
    url = reverse("admin:fees_feeauthorization_changelist")
    found = admin_client.get(url, {"q": getattr(ledger, field).lower()})
    assert ledger.escrow_order_id[:20] in found.content.decode()
    missing = admin_client.get(url, {"q": "0x" + "0" * 40})
    assert ledger.escrow_order_id[:20] not in missing.content.decode()


def test_the_ledger_shows_totals_per_partner_for_the_filtered_entries(admin_client, ledger):
    url = reverse("admin:fees_feeledgerentry_changelist")
    page = admin_client.get(url)
    content = page.content.decode()
    assert 'id="partner-totals"' in content
    assert "0.137500" in content  # authorized
    assert "0.103125" in content  # refunded: three quarters
    filtered = admin_client.get(url, {"kind__exact": FeeLedgerEntry.Kind.REFUNDED}).content.decode()
    totals = filtered.split('id="partner-totals"')[1].split("</table>")[0]
    assert "0.103125" in totals
    assert "0.137500" not in totals
    assert reverse("admin:fees_feeledgerentry_chart") in content


def test_the_chart_draws_a_bar_per_series_and_day_without_any_script(admin_client, ledger):
    page = admin_client.get(reverse("admin:fees_feeledgerentry_chart"), {"days": 7})
    content = page.content.decode()
    assert page.status_code == 200
    assert '<svg id="fees-chart"' in content
    assert content.count("<rect ") == 7 * 3
    assert "<script" not in content.split('<div id="content-main">')[1]
    today = timezone.now().date().isoformat()
    assert f"{today} Authorized: 0.137500 USDC" in content
    assert f"{today} Refunded: 0.103125 USDC" in content


def test_the_chart_can_show_one_partner(admin_client, ledger):
    from factories import make_partner

    other = make_partner(name="Nobody Trades")
    page = admin_client.get(reverse("admin:fees_feeledgerentry_chart"), {"partner": other.pk, "days": 7})
    assert "0.137500" not in page.content.decode()
    assert "Nobody Trades" in page.content.decode()


def test_the_chart_reads_its_figures_in_one_query(admin_client, ledger, django_assert_max_num_queries):
    admin_client.get(reverse("admin:fees_feeledgerentry_chart"))
    with django_assert_max_num_queries(6):  # session, user, the figures, the partner list
        admin_client.get(reverse("admin:fees_feeledgerentry_chart"), {"days": 365})
