"""Who may do what: every actor against every verification and moderation service, and the vote API.

The services are the one place these rules live (the web views and the API only call them), so
the matrix is checked there; the API row shows the endpoint translates them into HTTP statuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from mapapp import services
from mapapp.models import Camera, Comment, Flag, Sighting
from tests.conftest import _person, api_client_for

ZURICH = (47.3769, 8.5417)
ACTORS = ("anonymous", "volunteer", "reporter", "moderator", "banned")


@dataclass
class World:
    """A camera reported by alice, with a flag and a comment on it, and erin to be banned."""

    actors: dict[str, Any]
    camera: Camera
    sighting: Sighting
    flag: Flag
    comment: Comment
    erin: Any


@pytest.fixture
def world(volunteer, second_volunteer, moderator) -> World:
    sighting = services.sighting_submit(reporter=volunteer, data={"lat": ZURICH[0], "lon": ZURICH[1]}).sighting
    camera = Camera.objects.get(pk=services.sighting_process(sighting_id=sighting.pk).camera_id)
    erin = _person("erin_realname")
    banned = _person("mallory_realname")
    services.volunteer_ban(user_id=banned.pk, actor=moderator, reason="Fake reports.")
    return World(
        actors={
            "anonymous": AnonymousUser(),
            "volunteer": second_volunteer,
            "reporter": volunteer,
            "moderator": moderator,
            "banned": banned,
        },
        camera=camera,
        sighting=sighting,
        flag=services.flag_raise(flagger=erin, camera_id=camera.pk, reason="The pole looks empty now."),
        comment=services.comment_post(author=erin, camera_id=camera.pk, body="Seen it on Tuesday."),
        erin=erin,
    )


ACTIONS = {
    "vote_cast": lambda w, actor: services.vote_cast(voter=actor, camera_id=w.camera.pk, verdict="confirm"),
    "flag_raise": lambda w, actor: services.flag_raise(flagger=actor, camera_id=w.camera.pk, reason="Moved."),
    "comment_post": lambda w, actor: services.comment_post(author=actor, camera_id=w.camera.pk, body="Still there."),
    "sighting_hide": lambda w, actor: services.sighting_hide(sighting_id=w.sighting.pk, actor=actor, reason="Spam."),
    "volunteer_ban": lambda w, actor: services.volunteer_ban(user_id=w.erin.pk, actor=actor, reason="Spam."),
    "camera_expert_verdict": lambda w, actor: services.camera_expert_verdict(
        camera_id=w.camera.pk, actor=actor, status="verified", reason="Photo checked."
    ),
    "flag_resolve": lambda w, actor: services.flag_resolve(flag_id=w.flag.pk, actor=actor, resolution="Checked."),
    "comment_hide": lambda w, actor: services.comment_hide(comment_id=w.comment.pk, actor=actor, reason="Rude."),
}

# Volunteers (not the reporter, who has already spoken through their report) verify; anyone
# signed in and not banned flags and comments; only moderators moderate. A moderator is a
# volunteer too.
ALLOWED = {
    "vote_cast": {"volunteer", "moderator"},
    "flag_raise": {"volunteer", "reporter", "moderator"},
    "comment_post": {"volunteer", "reporter", "moderator"},
    "sighting_hide": {"moderator"},
    "volunteer_ban": {"moderator"},
    "camera_expert_verdict": {"moderator"},
    "flag_resolve": {"moderator"},
    "comment_hide": {"moderator"},
}
MATRIX = [(action, actor, actor in ALLOWED[action]) for action in ACTIONS for actor in ACTORS]


@pytest.mark.parametrize(
    ("action", "actor", "allowed"),
    MATRIX,
    ids=[f"{actor}-{'may' if allowed else 'may-not'}-{action}" for action, actor, allowed in MATRIX],
)
def test_the_permission_matrix(world, action, actor, allowed):
    do = ACTIONS[action]

    if allowed:
        assert do(world, world.actors[actor]) is not None
    else:
        with pytest.raises(PermissionDenied):
            do(world, world.actors[actor])


def test_a_refused_action_changes_nothing(world):
    before = (Camera.objects.get(pk=world.camera.pk).status, Flag.objects.open().count(), Comment.objects.count())

    for action in ACTIONS:
        with pytest.raises(PermissionDenied):
            ACTIONS[action](world, world.actors["banned"])

    after = (Camera.objects.get(pk=world.camera.pk).status, Flag.objects.open().count(), Comment.objects.count())
    assert after == before
    assert Sighting.objects.get(pk=world.sighting.pk).status == Sighting.Status.PROCESSED


API_STATUS = {"anonymous": 401, "volunteer": 201, "reporter": 403, "moderator": 201, "banned": 403}


@pytest.mark.parametrize(("actor", "expected"), API_STATUS.items())
def test_the_vote_endpoint_follows_the_same_matrix(world, actor, expected):
    user = world.actors[actor]
    client = api_client_for(None if actor == "anonymous" else user)

    response = client.post(f"/api/v1/cameras/{world.camera.pk}/votes/", {"verdict": "confirm"}, format="json")

    assert response.status_code == expected, response.json()
    assert (expected == 201) == (actor in ALLOWED["vote_cast"])
