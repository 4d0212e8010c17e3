"""A partner's customers: idempotent creation, updates (email, active/disabled), provisioning retry."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from audit.models import AuditAction
from audit.services import Actor, audit_record
from builder_platform.enqueue import enqueue_on_commit
from customers.errors import CustomerError, CustomerErrorCode
from customers.event_log import customer_event_record
from customers.models import Customer, Partner, Wallet
from customers.task_names import CustomerTask

EXTERNAL_ID_MAX_LENGTH = 128


# --- Customers -------------------------------------------------------------------------------------


def external_id_problem(value: str) -> str | None:
    """Why a partner's external id is unacceptable, or None. Shared by the API and the service."""
    if not value:
        return "Enter the id your system uses for this user (1 to 128 characters)."
    if len(value) > EXTERNAL_ID_MAX_LENGTH:
        return f"Use at most {EXTERNAL_ID_MAX_LENGTH} characters."
    if not value.isprintable():
        return "Use printable characters only (no control characters, tabs or line breaks)."
    if value != value.strip():
        return "Remove the spaces at the start or end."
    return None


@transaction.atomic
def customer_create(
    *, partner: Partner, external_id: str, email: str = "", now: datetime
) -> tuple[Customer, bool]:
    """The partner's customer with this external id, created if new; (customer, created).

    Idempotent on external_id, as Parsec's builder users are: a repeat answers the existing customer
    unchanged. A repeat that sends another email is refused (customer_email_differs) rather than
    answered as if it had been applied: a create never changes a customer, PATCH does. Concurrent
    first requests race on the unique constraint; the losers read the winner's row.
    """
    problem = external_id_problem(external_id)
    if problem:
        raise CustomerError(problem, code=CustomerErrorCode.INVALID_EXTERNAL_ID)
    existing = Customer.objects.filter(partner=partner, external_id=external_id).first()
    if existing is not None:
        return _customer_repeat(existing, email=email), False
    try:
        with transaction.atomic():  # a savepoint: the outer transaction survives the lost race
            customer = Customer.objects.create(
                partner=partner, external_id=external_id, email=email or "", provisioning_requested_at=now
            )
    except IntegrityError:
        existing = Customer.objects.filter(partner=partner, external_id=external_id).first()
        if existing is None:
            raise  # some other constraint: a bug, not a race
        return _customer_repeat(existing, email=email), False
    enqueue_on_commit(CustomerTask.PROVISION, str(customer.id))
    return customer, True


def _customer_repeat(existing: Customer, *, email: str) -> Customer:
    if email and email.lower() != existing.email.lower():
        raise CustomerError(
            f"A customer with external_id {existing.external_id!r} already exists with another email, "
            f"which was not changed. To change it, send PATCH /api/v1/customers/{existing.id} with "
            "the new email.",
            code=CustomerErrorCode.CUSTOMER_EMAIL_DIFFERS,
            status=409,
        )
    return existing


_UNSET = object()


@transaction.atomic
def customer_update(
    *,
    customer: Customer,
    email: str | object | None = _UNSET,
    status: str | object = _UNSET,
    now: datetime,
    actor: Actor | None = None,
) -> Customer:
    """A partner's change of its customer: the email, or its status between active and disabled.

    Disabling stops new trading (orders, fee signatures, wallet links are refused with
    customer_disabled); orders already placed are left as they are, for the partner to cancel if it
    wants. Parsec is not told: every order reaches it through us. Enabling again makes the customer
    active when it is fully provisioned, or resumes provisioning where it stopped. A disable or an
    enable is written to the audit trail, naming `actor` (the partner's key, or staff in the admin).
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    before_status = customer.status
    fields: dict[str, object] = {}
    if email is not _UNSET:
        fields["email"] = email or ""
    if status is not _UNSET and status != customer.status:
        if status == Customer.Status.DISABLED:
            fields["status"] = Customer.Status.DISABLED
        elif status == Customer.Status.ACTIVE and customer.status == Customer.Status.DISABLED:
            fields.update(_customer_enable(customer=customer, now=now))
        elif status == Customer.Status.ACTIVE:
            raise CustomerError(
                "This customer is still provisioning; it becomes active by itself once its Parsec "
                "account and wallets are ready (see provisioning_step).",
                code=CustomerErrorCode.CUSTOMER_STILL_PROVISIONING,
                status=409,
            )
        else:
            raise CustomerError("status must be active or disabled.", code=CustomerErrorCode.INVALID_STATUS)
    if fields:
        Customer.objects.filter(pk=customer.pk).update(**fields, updated_at=now)
        customer.refresh_from_db()
        if fields.get("status") == Customer.Status.ACTIVE:
            customer_event_record(customer_id=customer.pk, type="customer.active", now=now)
        _status_change_audit(customer=customer, before_status=before_status, actor=actor, now=now)
    return customer


def _status_change_audit(
    *, customer: Customer, before_status: str, actor: Actor | None, now: datetime
) -> None:
    if before_status == customer.status:
        return
    if customer.status == Customer.Status.DISABLED:
        action, verb = AuditAction.CUSTOMER_DISABLED, "Disabled"
    elif before_status == Customer.Status.DISABLED:
        action, verb = AuditAction.CUSTOMER_ENABLED, "Enabled"
    else:
        return
    audit_record(
        action=action,
        actor=actor or Actor.system("customer update"),
        target_type="customer",
        target_id=customer.pk,
        partner_id=customer.partner_id,
        summary=f"{verb} customer {customer.external_id}",
        before={"status": before_status},
        after={"status": customer.status},
        now=now,
    )


def _customer_enable(*, customer: Customer, now: datetime) -> dict[str, object]:
    """The fields that take a disabled customer back: active when ready, else provisioning again."""
    wallets = set(customer.wallets.filter(replaced_at__isnull=True).values_list("role", flat=True))
    if customer.parsec_customer_id and {Wallet.Role.SIGNER, Wallet.Role.PAYER} <= wallets:
        return {"status": Customer.Status.ACTIVE}
    if not customer.parsec_customer_id:
        enqueue_on_commit(CustomerTask.PROVISION, str(customer.pk))
    elif Wallet.Role.SIGNER in wallets:
        enqueue_on_commit(CustomerTask.ONBOARD, str(customer.pk))
    return {"status": Customer.Status.PROVISIONING, "provisioning_requested_at": now}


@transaction.atomic
def customer_provisioning_retry(*, customer: Customer, now: datetime) -> bool:
    """Clear a recorded Parsec refusal and queue the missing step again (an admin action)."""
    updated = Customer.objects.filter(pk=customer.pk, status=Customer.Status.PROVISIONING).update(
        provisioning_error="", provisioning_requested_at=now, updated_at=now
    )
    if not updated:
        return False
    if not customer.parsec_customer_id:
        enqueue_on_commit(CustomerTask.PROVISION, str(customer.pk))
    elif customer.wallets.filter(role=Wallet.Role.SIGNER, replaced_at__isnull=True).exists():
        enqueue_on_commit(CustomerTask.ONBOARD, str(customer.pk))
    # Otherwise the next step is the partner's: linking a wallet queues onboarding.
    return True
