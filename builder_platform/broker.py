"""Our variants of kombu's transports: the filesystem one made safe for several processes, and Redis's
made to survive a lost connection.

Filesystem. The stock transport writes a message file in place, so a worker polling the folder can pick it up
half-written and die on a JSON error; and without `store_processed` it moves claimed files to the
system temp folder, which is a copy (not an atomic rename) when that is another filesystem, so two
workers could both read one message. Here a message is written under a name the reader ignores and
renamed into place once complete, and a claimed file is renamed within the broker's own folders.

Redis. When the worker loses the broker, Celery's consumer calls `Connection.collect()` and then
`Connection.close()`. `collect()` closes the channels and then detaches the transport from its
connection (`transport.client = None`). If the task channel's close fails part-way (its BRPOP reply
is read from the dead socket and raises) and another channel's close fails too (deleting an
auto-delete fanout queue such as the pidbox's, over the dead connection), the task channel is left
open with its unacknowledged messages. `close()` then closes it again; restoring those messages asks
for a connection pool, the pool's parameters are read from `transport.client`, which is None, and the
AttributeError ("'NoneType' object has no attribute 'hostname'", from `_connparams`) is not a
connection error: Celery calls it unrecoverable and the worker exits. Here that case raises a
ConnectionError instead, which kombu ignores on close, so the worker reconnects. The messages it could
not restore stay in Redis's unacked set and come back after the visibility timeout; the database
outbox sweep re-enqueues their orders long before that.
"""

from __future__ import annotations

import os
import uuid
from queue import Empty
from time import monotonic

from kombu.exceptions import ConnectionError as BrokerConnectionError
from kombu.transport import filesystem
from kombu.transport import redis as redis_transport
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final_path = os.path.join(self.data_folder_out, name)
        # A leading dot keeps the partial file out of _get's "<anything>.<queue>.msg" match.
        partial_path = os.path.join(self.data_folder_out, f".partial-{name}")
        try:
            with open(partial_path, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial_path, final_path)  # atomic within one folder
        except OSError as exc:
            # A connection error, not a channel error: kombu retries it and then reports the broker as
            # unavailable (OperationalError), which the order intake leaves to the outbox sweep.
            raise BrokerConnectionError(f"Cannot add a message for queue {queue!r}: {exc}") from exc

    def _get(self, queue):
        wanted = f"{queue}.msg"
        claim_folder = self.processed_folder
        try:
            names = sorted(os.listdir(self.data_folder_in))
        except OSError as exc:
            # The folder is gone or unreadable: the broker is away. The worker reconnects (and
            # retries until it is back) instead of dying on an error it does not know.
            raise BrokerConnectionError(f"Cannot read the broker folder: {exc}") from exc
        for name in names:
            if name.startswith(".") or name.partition(".")[2] != wanted:
                continue
            claimed_path = os.path.join(claim_folder, name)
            try:
                # One rename wins per file, so exactly one consumer gets each message.
                os.replace(os.path.join(self.data_folder_in, name), claimed_path)
            except OSError:
                continue  # another consumer claimed it first
            try:
                with open(claimed_path, "rb") as handle:
                    payload = handle.read()
                if not self.store_processed:
                    os.remove(claimed_path)
            except OSError as exc:
                raise BrokerConnectionError(f"Cannot read a message of queue {queue!r}: {exc}") from exc
            return loads(bytes_to_str(payload))
        raise Empty()


# How often a blocking wait for messages looks whether the worker was asked to stop.
SHUTDOWN_CHECK_SECONDS = 0.2


class Transport(filesystem.Transport):
    Channel = Channel

    def establish_connection(self):
        # "Connected" means the folders can be read, so a worker whose broker folder is away waits in
        # Celery's reconnect loop (with its backoff) instead of spinning on failed reads.
        folder = self.client.transport_options.get("data_folder_in")
        if folder and not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
            raise BrokerConnectionError(f"The broker folder {folder} cannot be read and written.")
        return super().establish_connection()

    def drain_events(self, connection, timeout=None):
        """Wait for a message as kombu does, but in short slices that notice a shutdown request.

        Celery's blocking loop (the one used with this transport) waits here 2 s at a time and looks at
        a SIGTERM only in between, which made a worker take over 5 s to stop and honcho then killed it.
        """
        if timeout is None or timeout <= SHUTDOWN_CHECK_SECONDS:
            return super().drain_events(connection, timeout=timeout)
        from celery.worker import state as worker_state

        deadline = monotonic() + timeout
        while True:
            remaining = deadline - monotonic()
            try:
                return super().drain_events(
                    connection, timeout=min(SHUTDOWN_CHECK_SECONDS, max(remaining, 0.001))
                )
            except TimeoutError:
                # Celery sets these to an exit code (0 for a warm shutdown): compare to None and False.
                stopping = any(
                    flag is not None and flag is not False
                    for flag in (worker_state.should_stop, worker_state.should_terminate)
                )
                if stopping or remaining <= SHUTDOWN_CHECK_SECONDS:
                    raise


class RedisChannel(redis_transport.Channel):
    _sync_client = None

    def _create_client(self, asynchronous=False):
        """One client per connection pool, not a new one for each ack, delivery and publish.

        kombu builds a redis-py client every time it needs one without a client at hand (each
        acknowledgement, each delivery's unacked bookkeeping, each publish), and building one costs
        more than the commands it then sends (its response-callback table is filled anew each time).
        A client is safe to share between threads (each command borrows a connection from the pool,
        each pipeline is its own object), so the channel keeps one per pool: when the pool is replaced
        (after a disconnect) a new client is made for the new one.
        """
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        client = self._sync_client
        if client is None or client.connection_pool is not pool:
            client = self._sync_client = super()._create_client()
        return client

    def _connparams(self, asynchronous=False):
        if self.connection.client is None:
            # The connection was collected after a broker error: nothing can be sent over it any more.
            raise redis_transport.redis.exceptions.ConnectionError(
                "The broker connection was closed after an error; reconnecting."
            )
        return super()._connparams(asynchronous=asynchronous)


class RedisTransport(redis_transport.Transport):
    Channel = RedisChannel
