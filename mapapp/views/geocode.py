"""Address search for the sighting form: GET /geocode/?q=... → {"results": [{label, lat, lon}]}.

The browser asks us, and we ask Nominatim (see mapapp.geo), so a volunteer's address never goes
from their browser to a third party. The search box is a convenience: every failure answers
with a message that points the volunteer back to placing the camera on the map.

The page's JavaScript calls this endpoint, so every answer, errors included, is JSON with an
"error" key. A signed-out caller gets 401, not a redirect to the login page. Nothing here logs
the query.
"""

from __future__ import annotations

import math

from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from mapapp import geo

UNAVAILABLE = "Address search is unavailable right now. You can still place the camera on the map."
BUSY = "Address search is busy right now. Try again in a moment, or place the camera on the map."
SIGNED_OUT = "Sign in to search for addresses."
THROTTLED = "Too many address searches. Wait a minute, or place the camera on the map."


class PerVolunteerThrottle(UserRateThrottle):
    """Enough for someone typing and refining searches, but not for a script using us as a free
    geocoder. The whole site shares one Nominatim request per second.
    """

    scope = "geocode"  # rate in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (THROTTLE_GEOCODE)


# never_cache: the results show roughly where the volunteer is, so no browser or proxy keeps them.
@method_decorator(never_cache, name="dispatch")
class AddressSearch(APIView):
    permission_classes = (IsAuthenticated,)
    throttle_classes = (PerVolunteerThrottle,)
    renderer_classes = (JSONRenderer,)

    def get(self, request: Request) -> Response:
        try:
            places = geo.search(request.query_params.get("q", ""))
        except geo.InvalidQuery as exc:
            return Response({"error": str(exc)}, status=400)
        except geo.GeocoderBusy:
            return Response({"error": BUSY}, status=503, headers={"Retry-After": "1"})
        except geo.GeocoderUnavailable:
            return Response({"error": UNAVAILABLE}, status=503)
        return Response({"results": [{"label": p.label, "lat": p.lat, "lon": p.lon} for p in places]})

    def handle_exception(self, exc: Exception) -> Response:
        # DRF's own answers use "detail", and for a session user they would be 403. We want the
        # shape that the search box reads.
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            challenge = self.get_authenticate_header(self.request)  # "Token", for API clients
            return Response(
                {"error": SIGNED_OUT}, status=401, headers={"WWW-Authenticate": challenge} if challenge else {}
            )
        if isinstance(exc, exceptions.Throttled):
            retry_after = {"Retry-After": str(math.ceil(exc.wait))} if exc.wait is not None else {}
            return Response({"error": THROTTLED}, status=429, headers=retry_after)
        return super().handle_exception(exc)


search = AddressSearch.as_view()
