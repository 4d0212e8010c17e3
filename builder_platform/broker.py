"""kombu's filesystem transport, made safe for several processes on one folder.

The stock transport writes a message file in place, so a worker polling the folder can pick it up
half-written and die on a JSON error; and without `store_processed` it moves claimed files to the
system temp folder, which is a copy (not an atomic rename) when that is another filesystem, so two
workers could both read one message. Here a message is written under a name the reader ignores and
renamed into place once complete, and a claimed file is renamed within the broker's own folders.
"""

from __future__ import annotations

import os
import uuid
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
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
            raise ChannelError(f"Cannot add a message for queue {queue!r}") from exc

    def _get(self, queue):
        wanted = f"{queue}.msg"
        claim_folder = self.processed_folder
        for name in sorted(os.listdir(self.data_folder_in)):
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
                raise ChannelError(f"Cannot read a message of queue {queue!r}") from exc
            return loads(bytes_to_str(payload))
        raise Empty()


class Transport(filesystem.Transport):
    Channel = Channel
