"""kombu's filesystem transport, with message files that appear only once fully written.

This is the embedded broker `make run` uses (no server to install). kombu's own `_put` creates
`<name>.msg`, then locks and writes it, while `_get` renames and reads files without the lock,
so a consumer can pick up an empty file: the worker dies with "Unrecoverable error:
JSONDecodeError" and the message is lost (kombu issue #1551). Here a message is written under
a name consumers ignore and then renamed into place; a rename within one folder is atomic.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".partial"  # `_get` only takes names ending in ".<queue>.msg"
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
