"""API keys get a scope; every existing key keeps what it could do, read and write."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0005_fee_sync_lease_and_parsec_fee"),
    ]

    operations = [
        migrations.AddField(
            model_name="partnerapikey",
            name="scope",
            field=models.CharField(
                choices=[("read", "read only"), ("read_write", "read and write")],
                default="read_write",
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="partnerapikey",
            constraint=models.CheckConstraint(
                condition=models.Q(("scope__in", ["read", "read_write"])),
                name="customers_partnerapikey_scope_valid",
            ),
        ),
    ]
