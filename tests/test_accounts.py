"""Accounts: sign-up, log in and out, password reset, and the public pseudonymous handle."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from mapapp.models import Profile
from tests.conftest import PASSWORD, client_for


def sign_up(client, username="erin_realname", email="erin@private.example", password=PASSWORD):
    return client.post(
        reverse("signup"), {"username": username, "email": email, "password1": password, "password2": password}
    )


def test_signing_up_creates_a_volunteer_with_a_pseudonymous_handle_and_logs_them_in(anonymous, db):
    response = sign_up(anonymous)

    assert response.status_code == 302
    assert response.url == reverse("sighting_new")
    user = get_user_model().objects.get(username="erin_realname")
    handle = Profile.objects.get(user=user).handle
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d{3}", handle)
    assert "erin" not in handle
    assert anonymous.get(reverse("sighting_new")).status_code == 200


def test_sign_up_refuses_an_email_that_is_already_registered(anonymous, volunteer):
    response = sign_up(anonymous, username="someone_else", email=volunteer.email.upper())

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert not get_user_model().objects.filter(username="someone_else").exists()


def test_sign_up_refuses_a_weak_password_and_stores_nothing(anonymous, db):
    response = sign_up(anonymous, password="password")

    assert response.status_code == 200
    assert "too common" in response.content.decode()
    assert get_user_model().objects.count() == 0
    assert Profile.objects.count() == 0


def test_a_volunteer_can_log_in_and_log_out(anonymous, volunteer):
    response = anonymous.post(reverse("login"), {"username": volunteer.username, "password": PASSWORD})
    assert response.status_code == 302
    assert anonymous.get(reverse("me")).status_code == 200

    anonymous.post(reverse("logout"))
    assert anonymous.get(reverse("me")).status_code == 302


def test_a_wrong_password_does_not_log_in(anonymous, volunteer):
    response = anonymous.post(reverse("login"), {"username": volunteer.username, "password": "wrong-password"})

    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    assert anonymous.get(reverse("me")).status_code == 302


def test_password_reset_mails_a_link_that_sets_a_new_password(anonymous, volunteer):
    anonymous.post(reverse("password_reset"), {"email": volunteer.email})

    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_page = anonymous.get(link, follow=True)
    set_password_url = form_page.redirect_chain[-1][0]
    anonymous.post(
        set_password_url, {"new_password1": "a-brand-new-passphrase", "new_password2": "a-brand-new-passphrase"}
    )

    assert anonymous.login(username=volunteer.username, password="a-brand-new-passphrase")


def test_password_reset_for_an_unknown_email_looks_the_same_and_sends_nothing(anonymous, db):
    response = anonymous.post(reverse("password_reset"), {"email": "nobody@private.example"}, follow=True)

    assert "Check your email" in response.content.decode()
    assert mail.outbox == []


def test_a_volunteer_sees_their_handle_but_public_pages_never_show_usernames_or_emails(volunteer, second_volunteer):
    own_page = client_for(volunteer).get(reverse("me")).content.decode()
    assert volunteer.profile.handle in own_page

    for client in (client_for(second_volunteer), client_for(volunteer)):
        for url in (reverse("home"), reverse("login"), reverse("signup"), reverse("sighting_new")):
            page = client.get(url).content.decode()
            assert volunteer.username not in page
            assert volunteer.email not in page
