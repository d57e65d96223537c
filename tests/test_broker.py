"""The embedded filesystem broker never shows a consumer a half-written message."""

from __future__ import annotations

import contextlib
import os
import threading

from kombu import Connection

from camerawatch.celery import app

ATOMIC = "camerawatch.broker:Transport"


def test_the_default_broker_uses_the_atomic_filesystem_transport(settings):
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        return  # CI points the suite at Redis; this checks the embedded default
    with app.connection_for_write() as conn:
        assert type(conn.transport).__module__ == "camerawatch.broker"


def _observed_message_sizes(folder: str, transport: str) -> tuple[set[int], int]:
    """Publish messages while another thread watches the folder; the sizes of .msg files it saw."""
    options = {
        "data_folder_in": folder,
        "data_folder_out": folder,
        "control_folder": folder + "/control",
        "store_processed": False,
    }
    seen: set[int] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for name in os.listdir(folder):
                if name.endswith(".msg"):
                    with contextlib.suppress(FileNotFoundError):
                        seen.add(os.stat(os.path.join(folder, name)).st_size)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with Connection("filesystem://localhost/", transport=transport, transport_options=options) as conn:
            queue = conn.SimpleQueue("race")
            for _ in range(200):
                queue.put({"text": "x" * 100_000})
    finally:
        done.set()
        watcher.join()
    full = max(os.stat(os.path.join(folder, n)).st_size for n in os.listdir(folder) if n.endswith(".msg"))
    return seen, full


def test_a_message_file_is_only_ever_seen_complete(tmp_path):
    seen, full = _observed_message_sizes(str(tmp_path), ATOMIC)

    assert seen == {full}
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".partial")]  # no partial files left


def test_a_consumer_gets_every_message_whole(tmp_path):
    options = {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
        "control_folder": str(tmp_path / "control"),
        "store_processed": False,
    }
    with Connection("filesystem://localhost/", transport=ATOMIC, transport_options=options) as conn:
        queue = conn.SimpleQueue("whole")
        for n in range(20):
            queue.put({"n": n})
        received = []
        for _ in range(20):
            message = queue.get(timeout=5)
            received.append(message.payload["n"])
            message.ack()

    assert sorted(received) == list(range(20))
