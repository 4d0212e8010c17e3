"""A fee authorization as JSON: the one builder the partner API and the web page both answer with."""

from __future__ import annotations

from typing import Any

from fees.models import FeeAuthorization


def fee_authorization_json(authorization: FeeAuthorization) -> dict[str, Any]:
    """What the customer's wallet must sign, while the order waits for it.

    The partner API answers exactly this as an order's `fee_authorization`; the web page answers it
    too, with the facts the page states beside it. Amounts are USDC base units as strings, the
    deadline unix seconds.
    """
    return {
        "typed_data": authorization.typed_data,
        "fee_amount": str(authorization.fee_amount),
        "fee_bps": authorization.fee_bps,
        "deadline": int(authorization.deadline.timestamp()),
    }
