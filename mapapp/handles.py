"""Public pseudonymous handles such as "quiet-heron-42".

A volunteer's username and email never appear on a public page; the handle is what others see.
It is generated rather than chosen so that nobody publishes their real name by habit.
"""

from __future__ import annotations

import secrets

ADJECTIVES = (
    "amber", "brisk", "calm", "civic", "clear", "quiet", "steady", "bright", "patient", "keen",
    "gentle", "swift", "plain", "curious", "careful", "honest", "lucid", "nimble", "sober", "wry",
    "bold", "candid", "deft", "eager", "fair", "frank", "humble", "jolly", "kind", "loyal",
)  # fmt: skip
ANIMALS = (
    "heron", "otter", "badger", "finch", "lynx", "marten", "newt", "owl", "plover", "raven",
    "stoat", "swift", "tern", "vole", "wren", "hare", "ibis", "kestrel", "lark", "mole",
    "egret", "gecko", "hedgehog", "jay", "koala", "lemur", "magpie", "puffin", "robin", "seal",
)  # fmt: skip


def make_handle(rng: secrets.SystemRandom | None = None) -> str:
    """A fresh candidate handle: 30 × 30 × 900 ≈ 810,000 combinations; callers retry on collision."""
    rng = rng or secrets.SystemRandom()
    return f"{rng.choice(ADJECTIVES)}-{rng.choice(ANIMALS)}-{rng.randint(100, 999)}"
