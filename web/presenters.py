"""What the pages and JSON endpoints show: models turned into plain dicts of display-ready values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.urls import reverse

from builder_platform.values import plain_number
from customers.models import Customer, Wallet
from fees.models import FeeAuthorization
from fees.money import usdc_text
from fees.presenters import fee_authorization_json
from orders.models import Order
from parsec.contract import EXCHANGE_NAMES
from web.selectors import current_wallet

_STATE_LABELS = {"done": "done", "waiting": "in progress", "failed": "failed"}


def account_json(customer: Customer) -> dict:
    """Provisioning progress: wallet verified, Parsec account created, fee wallet (Safe) set up."""
    signer = current_wallet(customer, Wallet.Role.SIGNER)
    payer = current_wallet(customer, Wallet.Role.PAYER)
    failed = bool(customer.provisioning_error)
    raw_steps = [
        ("wallet", "Wallet signature verified", signer is not None),
        ("parsec_account", "Trading account created at Parsec", bool(customer.parsec_customer_id)),
        ("payer", "Trading wallet (a Safe owned by your wallet) set up at Polymarket", payer is not None),
    ]
    steps = []
    blocked = False
    for key, label, done in raw_steps:
        state = "done" if done else ("failed" if failed and not blocked else "waiting")
        blocked = blocked or not done
        steps.append({"key": key, "label": label, "state": state, "state_label": _STATE_LABELS[state]})

    if customer.status == Customer.Status.ACTIVE:
        summary = "Your account is set up."
    elif customer.status == Customer.Status.DISABLED:
        summary = "Your account is disabled."
    elif failed:
        summary = "Setting up your account stopped."
    else:
        summary = (
            "Setting up your trading account. This usually takes a few seconds; you can keep this page open."
        )
    error = ""
    if failed:
        error = (
            "Parsec could not set up your account, and our team has been told. You can browse markets "
            "meanwhile; trading opens once it is fixed."
        )
    return {
        "status": customer.status,
        "address": signer.address if signer else "",
        "payer_address": payer.address if payer else "",
        "steps": steps,
        "summary": summary,
        "error": error,
        # The page stops polling once nothing more will happen without a person acting.
        "finished": customer.status != Customer.Status.PROVISIONING or failed,
    }


# --- Orders ----------------------------------------------------------------------------------------------

ORDER_TYPE_LABELS = {
    "gtc": "Good 'til cancelled (GTC)",
    "ioc": "Immediate or cancel (IOC)",
    "fok": "Fill or kill (FOK)",
    "gtd": "Good 'til date (GTD)",
}
# What each status means to the person who placed the order.
STATUS_DETAILS = {
    "awaiting_fee_auth": "Waiting for your fee signature; not sent yet.",
    "queued": "Being sent to the exchange.",
    "submitting": "Being sent to the exchange.",
    "pending": "Accepted; the exchange is placing it.",
    "unknown": "Checking with the exchange whether it arrived.",
}
FEE_STATE_LABELS = {
    "requested": "Awaiting your signature",
    "signed": "Signed",
    "escrowed": "Held in escrow",
    "settled": "Settled",
    "refunded": "Refunded",
    "expired": "Not used",
}


def usdc_display(base_units: int) -> str:
    """USDC base units for people: 137500 -> "0.1375", 10000 -> "0.01" (at least cents, no trailing zeros)."""
    whole, fraction = usdc_text(int(base_units)).split(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def iso_utc(value: datetime | int) -> str:
    """An aware datetime or unix seconds as ISO 8601 in UTC with a Z."""
    moment = value if isinstance(value, datetime) else datetime.fromtimestamp(int(value), tz=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def order_summary(order: Order, question: str | None = None) -> str:
    side = order.get_side_display()
    text = f"{side} {plain_number(order.size)} {order.outcome} at {plain_number(order.price)}"
    return f"{text} on “{question}”" if question else text


def order_json(order: Order, *, question: str | None = None) -> dict[str, Any]:
    """One row of the live orders table; `question` is the market's, when known."""
    authorization = order.fee_authorization
    fee = None
    if authorization is not None:
        fee = {
            "state": authorization.state,
            "state_label": FEE_STATE_LABELS.get(authorization.state, authorization.state),
            "amount": str(authorization.fee_amount),
            "amount_usdc": usdc_display(authorization.fee_amount),
        }
    status_detail = STATUS_DETAILS.get(order.status, "")
    end_reason = order_end_reason(order)
    if end_reason:
        status_detail = end_reason
    elif order.cancel_requested_at and order.status in Order.LIVE_STATUSES:
        status_detail = "Cancel requested; waiting for the exchange."
    average_price = average_fill_price(order)
    order_type_label = ORDER_TYPE_LABELS.get(order.order_type, order.order_type)
    if order.order_type == "gtd" and order.expiration:
        order_type_label = f"Good 'til {iso_utc(order.expiration).replace('T', ' ').removesuffix('Z')} UTC"
    base = reverse("web:order_json", kwargs={"order_id": order.id})
    return {
        "id": str(order.id),
        "created_at": order.created_at.isoformat(),
        "exchange": order.exchange,
        "exchange_name": EXCHANGE_NAMES.get(order.exchange, order.exchange),
        "market_id": order.market_id,
        "market_label": question or _short_market_id(order.market_id),
        "outcome": order.outcome,
        "side": order.side,
        "side_label": order.get_side_display(),
        "price": plain_number(order.price),
        "size": plain_number(order.size),
        "filled": plain_number(order.filled),
        # Volume-weighted over the fills recorded so far; None before the first fill.
        "average_fill_price": None if average_price is None else plain_number(average_price),
        "order_type": order.order_type,
        "order_type_label": order_type_label,
        "status": order.status,
        "status_label": order.get_status_display(),
        "status_detail": status_detail,
        # Why an order ended without filling whole (failed, rejected, cancelled, expired); "" otherwise.
        "end_reason": end_reason,
        "fee": fee,
        "can_sign_fee": order.status == Order.Status.AWAITING_FEE_AUTH and authorization is not None,
        "can_cancel": order.status not in Order.FINAL_STATUSES and order.cancel_requested_at is None,
        "urls": {"detail": base, "cancel": f"{base}/cancel", "sign_fee": f"{base}/fee-authorization"},
    }


AVERAGE_PRICE_PLACES = Decimal("0.0001")  # shown to a hundredth of a cent, rounded half to even


def average_fill_price(order: Order) -> Decimal | None:
    """sum(price x size) / sum(size) over the order's fills (prefetched by the selector), in Decimal."""
    fills = list(order.fills.all())
    size = sum((fill.size for fill in fills), Decimal(0))
    if not size:
        return None
    value = sum((fill.price * fill.size for fill in fills), Decimal(0))
    return (value / size).quantize(AVERAGE_PRICE_PLACES)


def _utc_time(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%d %b %Y, %H:%M:%S} UTC"


def _filled_part(order: Order) -> str:
    if not order.filled:
        return "nothing had filled"
    return f"{plain_number(order.filled)} of {plain_number(order.size)} had filled"


def order_end_reason(order: Order) -> str:
    """Why an order ended without filling whole, in words for the person who placed it ("" otherwise).

    Read from the order's own fields (its last error, its cancel request, its type), so a page of
    orders needs no extra query for it.
    """
    S = Order.Status
    code, message = order.last_error_code, order.last_error_message[:300]
    if order.status == S.FAILED:
        if code == "fee_deadline_passed":
            deadline = order.fee_authorization.deadline if order.fee_authorization else None
            when = f" ({_utc_time(deadline)})" if deadline else ""
            return f"The fee was not signed before its deadline{when}, so the order was never sent."
        if code == "deadline_passed":
            return "It could not be sent to the exchange before its deadline; nothing was traded."
        if code == "gave_up":
            detail = f" ({message})" if message else ""
            return f"The exchange could not be reached in time{detail}; nothing was traded."
        return message or "It could not be sent to the exchange; nothing was traded."
    if order.status == S.REJECTED:
        return f"Rejected by the exchange: {message}" if message else "Rejected by the exchange."
    if order.status != S.CANCELLED:
        return ""
    if order.cancel_requested_at is not None:
        if order.sent_at is None:
            return "Cancelled on request before it was sent; no fee was taken."
        return f"Cancelled on request; {_filled_part(order)}."
    if order.order_type == "gtd" and order.expiration and order.updated_at.timestamp() >= order.expiration:
        expired = datetime.fromtimestamp(order.expiration, tz=UTC)
        return f"Expired: its good-'til time ({_utc_time(expired)}) passed; {_filled_part(order)}."
    if order.order_type == "ioc":
        return f"Immediate or cancel: what could not fill at once was cancelled; {_filled_part(order)}."
    if order.order_type == "fok":
        return "Fill or kill: the whole order could not fill at once, so none of it did."
    return f"Cancelled by the exchange; {_filled_part(order)}."


def _short_market_id(market_id: str) -> str:
    return market_id if len(market_id) <= 20 else f"{market_id[:10]}…{market_id[-6:]}"


def fee_request_json(order: Order, *, question: str | None = None) -> dict[str, Any] | None:
    """What the wallet is asked to sign, and the plain facts the page states about it."""
    authorization = order.fee_authorization
    if authorization is None or order.status != Order.Status.AWAITING_FEE_AUTH:
        return None
    return {
        **fee_authorization_json(authorization),
        "amount_usdc": usdc_display(authorization.fee_amount),
        "minimum_applied": authorization.minimum_applied,
        "payer": authorization.payer,
        "signer": authorization.signer,
        "escrow_contract": authorization.verifying_contract,
        "chain_id": authorization.chain_id,
        "order_summary": order_summary(order, question),
    }


def _what_became_of(authorization: FeeAuthorization) -> str:
    totals = getattr(authorization, "ledger_totals", {})
    paid = totals.get("distributed_affiliate", 0) + totals.get("distributed_treasury", 0)
    refunded = totals.get("refunded", 0)
    state = authorization.state
    if state == "requested":
        return "Waiting for your signature. Nothing has been taken."
    if state == "signed":
        return "Signed. The order is being sent; the escrow takes the fee when the exchange accepts it."
    if state == "escrowed":
        paid_text = f" {usdc_display(paid)} USDC paid so far for the filled part." if paid else ""
        return f"Held in escrow while the order is live.{paid_text}"
    if state == "settled":
        refund_text = f"{usdc_display(refunded)} USDC refunded" if refunded else "nothing left to refund"
        return f"{usdc_display(paid)} USDC paid for the filled part; {refund_text}."
    if state == "refunded":
        return f"Nothing filled: the whole {usdc_display(refunded)} USDC was refunded."
    return "Never used: the order ended before it was sent, so nothing was taken."


def fee_authorization_row(authorization: FeeAuthorization, *, question: str | None = None) -> dict[str, Any]:
    """One consent record: what was signed, when, and what became of it."""
    order = getattr(authorization, "order", None)
    return {
        "id": authorization.pk,
        "order_id": str(order.pk) if order else "",
        "order_summary": order_summary(order, question) if order else "",
        "minimum_applied": authorization.minimum_applied,
        "order_status": order.get_status_display() if order else "",
        "exchange_name": EXCHANGE_NAMES.get(authorization.exchange, authorization.exchange),
        "amount_usdc": usdc_display(authorization.fee_amount),
        "amount": authorization.fee_amount,
        "fee_bps": authorization.fee_bps,
        "payer": authorization.payer,
        "signer": authorization.signer,
        "escrow_contract": authorization.verifying_contract,
        "chain_id": authorization.chain_id,
        "escrow_order_id": authorization.escrow_order_id,
        "created_at": authorization.created_at,
        "deadline": authorization.deadline,
        "signed_at": authorization.signed_at,
        "state": authorization.state,
        "state_label": FEE_STATE_LABELS.get(authorization.state, authorization.state),
        "outcome": _what_became_of(authorization),
    }
