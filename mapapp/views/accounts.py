"""Sign-up and the volunteer's own page. Log in, log out and password reset are Django's views."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .. import services
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
    profile = services.profile_ensure(user=request.user)
    sightings = Sighting.objects.by(request.user).order_by("-submitted_at")[:100]
    return render(request, "mapapp/me.html", {"profile": profile, "sightings": sightings})
