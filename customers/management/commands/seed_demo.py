"""Idempotent demo data: the built-in web partner, a demo partner with a key, and an admin user."""

import json
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from audit.services import Actor
from customers import services
from customers.models import Partner

BUILTIN_PARTNER_NAME = "Web (built-in)"
DEMO_PARTNER_NAME = "Demo partner"
ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the built-in web partner, a demo partner with an API key and an admin user, once each."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        created: dict[str, str] = {}
        if Partner.objects.filter(is_builtin=True).exists():
            self.stdout.write("Built-in web partner exists.")
        else:
            services.partner_create(name=BUILTIN_PARTNER_NAME, is_builtin=True)
            self.stdout.write(f"Created the built-in web partner {BUILTIN_PARTNER_NAME!r}.")

        demo = Partner.objects.filter(name=DEMO_PARTNER_NAME).first()
        if demo is not None:
            self.stdout.write(
                f"{DEMO_PARTNER_NAME!r} exists; its key was printed when it was created. "
                f'Mint another with: python manage.py create_partner "{DEMO_PARTNER_NAME}"'
            )
        else:
            demo = services.partner_create(name=DEMO_PARTNER_NAME)
            _, raw_key = services.partner_api_key_create(
                partner=demo, name="seed_demo", actor=Actor.system("seed_demo command")
            )
            self.stdout.write(f"Created {DEMO_PARTNER_NAME!r}. Its API key, shown only this once:")
            self.stdout.write(f"  X-API-Key: {raw_key}")
            created["api_key"] = raw_key

        user_model = get_user_model()
        if user_model.objects.filter(username=ADMIN_USERNAME).exists():
            self.stdout.write(
                f"Superuser {ADMIN_USERNAME!r} exists; to set a new password run: "
                f"python manage.py changepassword {ADMIN_USERNAME}"
            )
        else:
            password = secrets.token_urlsafe(12)
            user_model.objects.create_superuser(username=ADMIN_USERNAME, email="", password=password)
            self.stdout.write(f"Created superuser {ADMIN_USERNAME!r} with password, shown only this once:")
            self.stdout.write(f"  {password}")
            created["admin_password"] = password
        if created:
            transaction.on_commit(lambda: credentials_keep_for_banner(created))


def credentials_keep_for_banner(created: dict[str, str]) -> None:
    """Leave the new secrets for `make run`'s ready banner (builder_platform.ready_banner), which prints
    them once everything is up and deletes the file. Readable by this user only (0600), under VAR_DIR.
    """
    path = Path(settings.VAR_DIR) / "first-run-credentials"
    if path.exists():  # left by a start that stopped before the banner: keep what it still holds
        created = {**json.loads(path.read_text()), **created}
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when the file existed with wider permissions
    with os.fdopen(descriptor, "w") as handle:
        json.dump(created, handle)
