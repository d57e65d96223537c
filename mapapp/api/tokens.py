"""API tokens from the profile page: create or rotate, and revoke (services: the writes).

A token is DRF's authtoken (one per account; the same one `POST /api/v1/auth/token/` hands out
for a password), so rotating also replaces the token a volunteer's phone app uses.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from rest_framework.authtoken.models import Token


def _lock(user: AbstractBaseUser) -> None:
    # Two rotations at once (a double click) would both delete, then both insert: one would fail
    # on the one-token-per-account constraint. The account row's lock puts them in a queue.
    get_user_model().objects.select_for_update().filter(pk=user.pk).exists()


@transaction.atomic
def api_token_rotate(*, user: AbstractBaseUser) -> Token:
    """A new token for the account; the old one, if any, stops working at once."""
    _lock(user)
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


@transaction.atomic
def api_token_revoke(*, user: AbstractBaseUser) -> bool:
    """Delete the account's token. False if it had none."""
    _lock(user)
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)
