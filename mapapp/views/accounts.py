"""Sign-up and the volunteer's own page. Log in, log out and password reset are Django's views."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from rest_framework.authtoken.models import Token

from .. import services
from ..api.throttling import describe_rate, tier
from ..api.tokens import api_token_revoke, api_token_rotate
from ..forms import SignupForm
from ..models import Sighting


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("sighting_new")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.volunteer_signup(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("sighting_new")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def me(request: HttpRequest) -> HttpResponse:
    """The volunteer's sightings and their API token.

    POST token=rotate makes a new token and shows it on this one response only (no redirect: the
    messages framework would put it in a cookie, and a reload must not show it again); the page
    is then marked no-store so no cache keeps it. POST token=revoke deletes it.
    """
    new_token = None
    revoked = False
    if request.method == "POST":
        action = request.POST.get("token")
        if action == "rotate":
            new_token = api_token_rotate(user=request.user).key
        elif action == "revoke":
            revoked = api_token_revoke(user=request.user)
        else:
            return HttpResponseBadRequest("Unknown action.")
    profile = services.profile_ensure(user=request.user)
    sightings = Sighting.objects.by(request.user).order_by("-submitted_at")[:100]
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    context = {
        "profile": profile,
        "sightings": sightings,
        "token": Token.objects.filter(user=request.user).only("created").first(),
        "new_token": new_token,
        "revoked": revoked,
        "api_tier": tier(request.user),
        "rates": {scope: describe_rate(rates.get(scope)) for scope in ("anon", "user", "researcher")},
        "export_rate": describe_rate(rates.get("export"), "exports"),
    }
    response = render(request, "mapapp/me.html", context)
    if request.method == "POST":
        response["Cache-Control"] = "no-store"
    return response
