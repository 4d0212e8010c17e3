"""Scoped keys: a read key reads and never writes (every write route of the URLconf), and partners list,
create and revoke their keys at /api/v1/api-keys, always keeping one read_write key; each change audited."""

from __future__ import annotations

import re
import threading

import pytest
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver
from factories import make_api_key, make_partner
from rest_framework.test import APIClient

from audit.models import AuditEntry
from audit.services import Actor
from customers import services
from customers.models import PartnerApiKey

KEYS = "/api/v1/api-keys"
WRITE_METHODS = ("post", "put", "patch", "delete")


def client_with(raw_key: str, *, ip: str = "127.0.0.1") -> APIClient:
    client = APIClient(REMOTE_ADDR=ip)
    client.credentials(HTTP_X_API_KEY=raw_key)
    return client


def read_key(partner) -> tuple[PartnerApiKey, str]:
    return services.partner_api_key_create(
        partner=partner, actor=Actor.system("test"), scope=PartnerApiKey.Scope.READ
    )


def _write_routes(patterns, prefix: str = "") -> list[tuple[str, str]]:
    """(path with placeholder values, method) of every write the partner API routes."""
    routes = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += _write_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
            view_class = getattr(pattern.callback, "view_class", None)
            for method in WRITE_METHODS:
                if view_class is not None and hasattr(view_class, method):
                    routes.append(("/" + re.sub(r"<(?:\w+:)?\w+>", "x1", route), method))
    return routes


WRITE_ROUTES = _write_routes(get_resolver().url_patterns)


def test_the_url_conf_has_the_write_routes_this_test_relies_on():
    # A resolver walk that quietly found nothing would make the parametrized test below vacuous.
    found = {(path, method) for path, method in WRITE_ROUTES}
    assert ("/api/v1/customers", "post") in found
    assert ("/api/v1/orders", "post") in found
    assert ("/api/v1/orders/x1", "delete") in found
    assert ("/api/v1/api-keys", "post") in found
    assert ("/api/v1/api-keys/x1", "delete") in found
    assert len(WRITE_ROUTES) >= 15


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "method"), WRITE_ROUTES, ids=[f"{m.upper()} {p}" for p, m in WRITE_ROUTES])
def test_a_read_key_gets_403_key_read_only_on_every_write_route(path, method):
    partner = make_partner()
    _, raw_key = read_key(partner)
    before = AuditEntry.objects.count()

    response = getattr(client_with(raw_key), method)(path, {}, format="json")

    assert response.status_code == 403, response.content
    assert response.json()["code"] == "key_read_only"
    assert "read-only" in response.json()["error"]
    assert AuditEntry.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/customers", "/api/v1/orders", KEYS, "/api/v1/webhook-endpoints"])
def test_a_read_key_reads(path):
    _, raw_key = read_key(make_partner())
    assert client_with(raw_key).get(path).status_code == 200


@pytest.mark.django_db
def test_a_read_write_key_may_write_where_a_read_key_may_not():
    partner = make_partner()
    _, write = make_api_key(partner=partner)
    _, read = read_key(partner)
    body = {"external_id": "user-1"}
    assert client_with(read).post("/api/v1/customers", body, format="json").status_code == 403
    assert client_with(write).post("/api/v1/customers", body, format="json").status_code == 201


@pytest.mark.django_db
def test_existing_keys_are_read_write_and_the_database_refuses_another_scope():
    from django.db import IntegrityError, transaction

    api_key, _ = make_api_key()
    assert api_key.scope == "read_write"
    with pytest.raises(IntegrityError), transaction.atomic():
        PartnerApiKey.objects.filter(pk=api_key.pk).update(scope="admin")


@pytest.mark.django_db
def test_the_list_shows_every_key_of_the_partner_and_never_a_secret(django_assert_max_num_queries):
    partner = make_partner()
    mine, raw_key = make_api_key(partner=partner)
    read, _ = read_key(partner)
    make_api_key(partner=make_partner())  # another partner's
    client = client_with(raw_key)
    client.get(KEYS)  # the key's first use records last_used_at; later ones within a minute do not
    for _ in range(5):
        make_api_key(partner=partner)

    with django_assert_max_num_queries(2):  # the key, the page: the same whatever the number of keys
        response = client.get(KEYS)

    assert response.status_code == 200
    listed = response.json()["results"][5:]
    assert len(response.json()["results"]) == 7
    assert [(row["id"], row["scope"]) for row in listed] == [(read.pk, "read"), (mine.pk, "read_write")]
    assert listed[1]["prefix"] == raw_key[:11]
    assert set(listed[0]) == {"id", "prefix", "scope", "name", "created_at", "last_used_at", "revoked_at"}
    assert raw_key not in response.content.decode()
    assert mine.key_hash not in response.content.decode()


@pytest.mark.django_db
def test_a_created_key_is_shown_once_works_at_once_and_is_audited_with_the_creating_key():
    partner = make_partner()
    creator, raw_key = make_api_key(partner=partner)
    client = client_with(raw_key, ip="203.0.113.7")

    response = client.post(KEYS, {"scope": "read", "name": "dashboard"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    new_key = body["key"]
    assert new_key.startswith(body["prefix"])
    assert (body["scope"], body["name"], body["revoked_at"]) == ("read", "dashboard", None)
    stored = PartnerApiKey.objects.get(pk=body["id"])
    assert stored.partner == partner
    assert new_key not in client.get(KEYS).content.decode()  # shown once
    assert client_with(new_key).get("/api/v1/customers").status_code == 200
    assert client_with(new_key).post(KEYS, {"scope": "read"}, format="json").status_code == 403

    [entry] = AuditEntry.objects.filter(action="api_key.created", target_id=str(stored.pk))
    assert (entry.actor_type, entry.actor_key_prefix, entry.partner_id, entry.ip) == (
        "partner_key",
        creator.prefix,
        partner.pk,
        "203.0.113.7",
    )
    assert entry.after == {"id": stored.pk, "prefix": stored.prefix, "scope": "read", "name": "dashboard"}
    assert new_key not in str(entry.after) + entry.summary


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "scope"), ({"scope": "admin"}, "scope"), ({"scope": "read", "secret": "mine"}, "secret")],
)
def test_a_bad_create_answers_400_and_creates_and_audits_nothing(body, field):
    partner = make_partner()
    _, raw_key = make_api_key(partner=partner)
    keys_before, audit_before = PartnerApiKey.objects.count(), AuditEntry.objects.count()

    response = client_with(raw_key).post(KEYS, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert (PartnerApiKey.objects.count(), AuditEntry.objects.count()) == (keys_before, audit_before)


@pytest.mark.django_db
def test_revoking_a_key_refuses_it_at_once_and_is_audited():
    partner = make_partner()
    actor_key, raw_key = make_api_key(partner=partner)
    doomed, doomed_raw = read_key(partner)
    assert client_with(doomed_raw).get("/api/v1/customers").status_code == 200

    response = client_with(raw_key).delete(f"{KEYS}/{doomed.pk}")

    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert client_with(doomed_raw).get("/api/v1/customers").status_code == 401
    [entry] = AuditEntry.objects.filter(action="api_key.revoked")
    assert (entry.actor_key_prefix, entry.target_id, entry.partner_id) == (
        actor_key.prefix,
        str(doomed.pk),
        partner.pk,
    )
    assert entry.before["revoked_at"] is None
    assert entry.after["revoked_at"] is not None
    # Again: nothing changes, nothing more is audited.
    assert client_with(raw_key).delete(f"{KEYS}/{doomed.pk}").status_code == 200
    assert AuditEntry.objects.filter(action="api_key.revoked").count() == 1


@pytest.mark.django_db
def test_the_last_read_write_key_cannot_be_revoked_but_the_requesting_key_can_when_another_remains():
    partner = make_partner()
    first, first_raw = make_api_key(partner=partner)
    read_key(partner)  # a read key does not count as a write key

    refused = client_with(first_raw).delete(f"{KEYS}/{first.pk}")
    assert refused.status_code == 409
    assert refused.json()["code"] == "last_write_key"
    assert not AuditEntry.objects.filter(action="api_key.revoked").exists()

    second, _ = make_api_key(partner=partner)
    assert client_with(first_raw).delete(f"{KEYS}/{first.pk}").status_code == 200
    assert client_with(first_raw).get("/api/v1/customers").status_code == 401
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.revoked_at is not None
    assert second.revoked_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("key_id", ["foreign", "999999999", "abc", "-1"])
def test_another_partners_key_and_a_missing_id_answer_the_same_404(key_id):
    partner = make_partner()
    _, raw_key = make_api_key(partner=partner)
    foreign, _ = make_api_key(partner=make_partner())
    target = foreign.pk if key_id == "foreign" else key_id

    response = client_with(raw_key).delete(f"{KEYS}/{target}")

    assert response.status_code == 404
    assert response.json() == {
        "error": "No API key with this id.",
        "code": "not_found",
        "request_id": response["X-Request-Id"],
    }
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_revocations_of_the_last_two_write_keys_leave_one():
    partner = make_partner()
    (one, one_raw), (two, two_raw) = make_api_key(partner=partner), make_api_key(partner=partner)
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    failures: list[BaseException] = []

    def revoke(raw_key: str, target: PartnerApiKey) -> None:
        try:
            barrier.wait(timeout=10)
            statuses.append(client_with(raw_key).delete(f"{KEYS}/{target.pk}").status_code)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread's assertion
            failures.append(exc)
        finally:
            connection.close()

    # Each key revokes the other: both requests are allowed alone, only one may win.
    threads = [
        threading.Thread(target=revoke, args=(one_raw, two)),
        threading.Thread(target=revoke, args=(two_raw, one)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert sorted(statuses) in ([200, 409], [200, 401])  # the loser is refused, or its key already gone
    active = PartnerApiKey.objects.filter(partner=partner, revoked_at__isnull=True, scope="read_write")
    assert active.count() == 1
    assert AuditEntry.objects.filter(action="api_key.revoked").count() == 1


def test_the_schema_declares_the_key_routes_and_a_403_on_every_write(db):
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    assert set(paths[KEYS]) >= {"get", "post"}
    assert "409" in paths[KEYS + "/{key_id}"]["delete"]["responses"]
    assert "404" in paths[KEYS + "/{key_id}"]["delete"]["responses"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            declares = "403" in operation["responses"]
            assert declares is (method != "get"), f"{method} {path}"
