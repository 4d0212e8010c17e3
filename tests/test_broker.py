"""The filesystem broker of the embedded mode never hands out a half-written or twice-claimed message."""

from pathlib import Path
from queue import Empty

import pytest
from django.conf import settings
from kombu import Connection

import builder_platform.celery  # noqa: F401 - registers our filesystem transport


@pytest.fixture
def folders(tmp_path):
    for name in ("queue", "processed", "control"):
        (tmp_path / name).mkdir()
    return {
        "control_folder": str(tmp_path / "control"),
        "data_folder_in": str(tmp_path / "queue"),
        "data_folder_out": str(tmp_path / "queue"),
        "processed_folder": str(tmp_path / "processed"),
        "store_processed": False,
    }


def test_filesystem_urls_use_the_atomic_transport(folders):
    with Connection("filesystem://", transport_options=folders) as connection:
        assert type(connection.transport).__module__ == "builder_platform.broker"


def test_a_message_is_delivered_once_and_leaves_no_files_behind(folders, tmp_path):
    with Connection("filesystem://", transport_options=folders) as connection:
        queue = connection.SimpleQueue("submission")
        queue.put({"order_id": "42"})
        message = queue.get(timeout=2)
        assert message.payload == {"order_id": "42"}
        message.ack()
        with pytest.raises(Empty):
            queue.get(timeout=0.2)
        queue.close()
    assert list((tmp_path / "queue").iterdir()) == []
    assert list((tmp_path / "processed").iterdir()) == []


def test_a_message_becomes_visible_only_once_completely_written(folders, tmp_path, monkeypatch):
    from builder_platform import broker

    seen_before_rename: list[list[str]] = []
    real_replace = broker.os.replace

    def observing_replace(source, destination):
        visible = [p.name for p in (tmp_path / "queue").iterdir() if not p.name.startswith(".")]
        seen_before_rename.append(visible)
        assert Path(source).read_bytes().endswith(b"}")  # the partial file is already complete
        return real_replace(source, destination)

    monkeypatch.setattr(broker.os, "replace", observing_replace)
    with Connection("filesystem://", transport_options=folders) as connection:
        connection.default_channel._put("submission", {"body": "x" * 10_000})
    assert seen_before_rename[0] == []  # nothing a reader would pick up existed before the rename
    assert [p.name.endswith(".submission.msg") for p in (tmp_path / "queue").iterdir()] == [True]


def test_a_file_still_being_written_is_not_read(folders, tmp_path):
    (tmp_path / "queue" / ".partial-1_abc.submission.msg").write_bytes(b'{"body": "trunc')
    with Connection("filesystem://", transport_options=folders) as connection, pytest.raises(Empty):
        connection.default_channel._get("submission")


# --- Redis: a connection collected after a broker cut closes without an unrecoverable error ------------
# Needs a Redis server, which CI's mode has (CELERY_BROKER_URL=redis://...); the embedded mode has none,
# and its broker's outage is covered by tests/orders/test_order_broker_outage.py in both modes.

if settings.CELERY_BROKER_URL.startswith("redis://"):

    def test_a_redis_connection_collected_after_a_cut_closes_without_an_attribute_error():
        """The worker's sequence on a lost connection (collect, then close), in the state that killed it.

        The task channel has an unacknowledged message and a BRPOP in flight, and another channel has an
        auto-delete fanout queue (as Celery's pidbox does), so collect() leaves the task channel open and
        the close that follows restores its message through a transport already detached.
        """
        from urllib.parse import urlsplit, urlunsplit

        from kombu import Exchange, Queue
        from kombu.common import ignore_errors
        from tcp_proxy import TcpProxy

        parts = urlsplit(settings.CELERY_BROKER_URL)
        proxy = TcpProxy(target_host=parts.hostname or "127.0.0.1", target_port=parts.port or 6379)
        port = proxy.start()
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
        connection = Connection(urlunsplit(parts._replace(netloc=netloc)))
        try:
            connection.connect()
            assert type(connection.transport).__module__ == "builder_platform.broker"
            channel = connection.default_channel
            queue = Queue("tests-broker-cut", routing_key="tests-broker-cut")
            queue(channel).declare()
            queue(channel).purge()
            connection.Producer(channel=channel).publish({"n": 1}, routing_key="tests-broker-cut")
            received = []
            connection.Consumer(
                queue, channel=channel, callbacks=[lambda body, message: received.append(1)]
            ).consume()
            connection.drain_events(timeout=5)
            assert received == [1]  # delivered, not acknowledged
            fanout = Queue(
                "tests-broker-cut-fanout", Exchange("tests-broker-cut-bcast", type="fanout"), auto_delete=True
            )
            connection.Consumer(fanout, channel=connection.channel()).consume()
            channel._brpop_start()  # the event loop leaves a BRPOP waiting

            proxy.cut()
            connection.collect(socket_timeout=1)
            ignore_errors(connection, connection.close)  # raised AttributeError: ... 'hostname'
        finally:
            proxy.stop()
        assert channel.closed  # closed for good; the worker then opens a new connection

    def test_publishes_share_one_redis_client_until_the_pool_is_replaced():
        """Each publish used to build a new redis-py client; the channel keeps one per connection pool,
        and a pool replaced after a broker error gets a client of its own."""
        from kombu import Queue

        connection = Connection(settings.CELERY_BROKER_URL)
        try:
            channel = connection.default_channel
            queue = Queue("tests-broker-shared-client", routing_key="tests-broker-shared-client")
            queue(channel).declare()
            queue(channel).purge()
            producer = connection.Producer(channel=channel)
            with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
                assert first is second
                assert first.connection_pool is channel.pool
            for number in range(3):
                producer.publish({"n": number}, routing_key="tests-broker-shared-client")
            channel._disconnect_pools()  # what kombu does after a broker error
            with channel.conn_or_acquire() as replaced:
                assert replaced is not first
                assert replaced.connection_pool is channel.pool
            producer.publish({"n": 3}, routing_key="tests-broker-shared-client")

            received = []
            while (message := queue(channel).get(no_ack=True)) is not None:
                received.append(message.payload["n"])
            assert received == [0, 1, 2, 3]
        finally:
            connection.close()

    def test_a_redis_channel_shares_one_client_per_pool_and_acks_through_it():
        """Acks and deliveries reuse the channel's client (building one each time cost more than the
        commands); a replaced pool gets a client of its own, and an acknowledged message is gone."""
        from kombu import Queue

        with Connection(settings.CELERY_BROKER_URL) as connection:
            channel = connection.default_channel
            with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
                assert first is second
                assert first.connection_pool is channel.pool
            queue = Queue("tests-broker-shared-client", routing_key="tests-broker-shared-client")
            queue(channel).declare()
            queue(channel).purge()
            connection.Producer(channel=channel).publish({"n": 1}, routing_key=queue.routing_key)
            message = queue(channel).get()
            assert message is not None
            assert message.payload == {"n": 1}
            message.ack()
            with channel.conn_or_acquire() as client:
                assert not client.hexists(channel.unacked_key, message.delivery_tag)
            channel._disconnect_pools()
            with channel.conn_or_acquire() as replaced:
                assert replaced is not first
                assert replaced.connection_pool is channel.pool
