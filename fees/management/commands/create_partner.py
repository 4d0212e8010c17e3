"""Create a partner (or reuse the one with that name) and print a new API key on the last line.

It lives in fees, not customers, because a partner's fee must pass the fee policy (the escrow's
minimum, the builder tier's cap) before the partner exists.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit.services import Actor
from customers import services
from customers.models import Partner
from fees.models import EscrowConfig
from fees.services import FeeError, partner_fee_validate


class Command(BaseCommand):
    help = (
        "Create a partner, or reuse the partner with that name, and print a new API key. The key is on the "
        "last line of the output, alone, and is not stored: copy it now."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--fee-bps",
            type=int,
            default=None,
            help="builder fee in bps: 0 (attribution only) or from the escrow minimum to the tier cap",
        )
        parser.add_argument(
            "--affiliate-address", default="", help="0x address receiving the affiliate share"
        )
        parser.add_argument(
            "--revenue-share-bps", type=int, default=None, help="off-chain share, basis points"
        )

    def handle(self, *args, name: str, fee_bps, affiliate_address: str, revenue_share_bps, **options) -> None:
        try:
            partner_fee_validate(fee_bps=fee_bps, config=EscrowConfig.objects.filter(pk=1).first())
        except FeeError as error:
            raise CommandError(error.message) from None
        with transaction.atomic():
            partner = Partner.objects.filter(name=name.strip()).first()
            if partner is None:
                try:
                    partner = services.partner_create(
                        name=name,
                        fee_bps=fee_bps,
                        affiliate_address=affiliate_address,
                        revenue_share_bps=revenue_share_bps or 0,
                    )
                except ValidationError as exc:
                    problems = "; ".join(
                        f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items()
                    )
                    raise CommandError(f"Cannot create partner {name!r}: {problems}") from None
                self.stdout.write(f"Created partner {partner.name!r} (id {partner.pk}).")
            else:
                # Reusing a partner only mints a key; terms are changed in admin, where changes are visible.
                if fee_bps is not None or affiliate_address or revenue_share_bps is not None:
                    raise CommandError(
                        f"Partner {partner.name!r} already exists; change its fee, affiliate address or "
                        "revenue share in admin, or run this command with the name only to mint another key."
                    )
                self.stdout.write(
                    f"Partner {partner.name!r} already exists (id {partner.pk}); minting a new key."
                )
            _, raw_key = services.partner_api_key_create(
                partner=partner, name="create_partner", actor=Actor.system("create_partner command")
            )
        self.stdout.write("Copy the API key below now; it is not stored and cannot be shown again.")
        self.stdout.write(raw_key)
