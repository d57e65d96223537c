"""The sighting and vote API: HTTP in, one service call, HTTP out. No business rules live here."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from mapapp import services
from mapapp.models import Camera, Sighting

from . import schema as doc
from .serializers import SightingInputSerializer, SightingOutputSerializer, VoteInputSerializer, VoteOutputSerializer

# Tells a client that this 200 repeats the answer to an earlier request with the same client_id.
REPLAYED_HEADER = "Idempotent-Replayed"


@extend_schema_view(
    post=extend_schema(
        operation_id="auth_token_create",
        summary="Exchange a username and password for your API token",
        description="Send it back as `Authorization: Token <key>`. The same token is on your profile page "
        "(/me/), where you can also rotate or revoke it. Rate-limited per client address.",
        responses={
            200: OpenApiResponse(inline_serializer("AuthToken", {"token": serializers.CharField()})),
            400: doc.BAD_BODY,
            415: doc.UNSUPPORTED,
            429: OpenApiResponse(doc.ref("Error"), description="Too many attempts; wait `Retry-After` seconds."),
        },
        parameters=[doc.RETRY_AFTER],
        tags=["auth"],
    )
)
class TokenView(ObtainAuthToken):
    """Exchange a username and password for the API token.

    Throttled per client IP (scope "auth" in settings) against password guessing; the throttle runs
    before the password check, so a throttled client learns nothing, even with the right password.
    No authentication classes: the credentials are in the body, and a stale Token header or a
    browser session must not turn this into a 401 or a CSRF failure.
    """

    authentication_classes = ()
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "auth"


class NewestFirstCursor(CursorPagination):
    """A reporter's sightings, newest first.

    Cursor rather than limit/offset because a phone syncing "my sightings" keeps submitting while it
    pages: with offsets every new sighting shifts the pages by one and an item is seen twice or
    skipped; a cursor stays put. It also skips the COUNT query and uses the (reporter,
    -submitted_at) index instead of scanning past an offset. submitted_at never changes after
    the insert, which a cursor field must not; id breaks ties between equal timestamps.
    """

    ordering = ("-submitted_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


@csrf_exempt  # it changes nothing; a POST to a wrong URL is a 404, not an HTML CSRF page
def not_found(request: HttpRequest) -> JsonResponse:
    """A URL under /api/v1/ that names nothing: JSON like every other API error, for any method."""
    return JsonResponse({"detail": "Not found. The endpoints are listed at /api/v1/ and /api/docs/."}, status=404)


def _error_detail(exc: DjangoValidationError) -> dict[str, list[str]]:
    if not hasattr(exc, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
    errors = exc.message_dict
    if "__all__" in errors:
        errors[api_settings.NON_FIELD_ERRORS_KEY] = errors.pop("__all__")
    return errors


SIGHTING_LOCATION = doc.header("Location", "The sighting's URL.", [200, 201])


@extend_schema_view(
    get=extend_schema(
        operation_id="sightings_list",
        summary="Your own sightings, newest first",
        description="A page at a time: follow `next` until it is null. The cursor keeps its place while "
        "you submit more.",
        responses={
            200: SightingOutputSerializer(many=True),
            401: doc.UNAUTHENTICATED,
            404: OpenApiResponse(doc.ref("Error"), description="A cursor this API did not give out."),
        },
        parameters=[
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1, "maximum": NewestFirstCursor.max_page_size},
                description=f"Sightings per page (default {NewestFirstCursor.page_size}).",
            ),
            doc.WWW_AUTHENTICATE,
        ],
        tags=["sightings"],
    ),
    post=extend_schema(
        operation_id="sightings_create",
        summary="Submit a sighting",
        description="JSON, or multipart with a `photo`. With a `client_id` the request is idempotent: a retry "
        "answers 200 with the first sighting (and `Idempotent-Replayed: true`) instead of storing another; "
        "the same `client_id` with different data is a 422.",
        request={"application/json": SightingInputSerializer, "multipart/form-data": SightingInputSerializer},
        responses={
            201: OpenApiResponse(SightingOutputSerializer, description="Stored; processing follows."),
            200: OpenApiResponse(SightingOutputSerializer, description="A retry: the sighting stored the first time."),
            400: doc.BAD_BODY,
            401: doc.UNAUTHENTICATED,
            403: doc.FORBIDDEN,
            415: doc.UNSUPPORTED,
            422: OpenApiResponse(doc.ref("ValidationError"), description="`client_id` reused for another sighting."),
        },
        parameters=[
            SIGHTING_LOCATION,
            doc.header("Idempotent-Replayed", "`true`: this repeats an earlier answer.", [200]),
            doc.WWW_AUTHENTICATE,
        ],
        tags=["sightings"],
    ),
)
class SightingListCreateView(generics.ListAPIView):
    """GET: the signed-in volunteer's own sightings. POST: submit a sighting (idempotent with client_id)."""

    permission_classes = (IsAuthenticated,)
    parser_classes = (JSONParser, MultiPartParser)
    serializer_class = SightingOutputSerializer
    pagination_class = NewestFirstCursor

    def get_queryset(self) -> QuerySet[Sighting]:
        return Sighting.objects.by(self.request.user)

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = SightingInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        client_id = data.pop("client_id", None)
        photo = data.pop("photo", None)
        try:
            result = services.sighting_submit(
                reporter=request.user, data=data, photo=photo, source=Sighting.Source.API, client_id=client_id
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(_error_detail(exc)) from None
        except services.IdempotencyConflict as exc:
            return Response({"client_id": [str(exc)]}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)

        body = self.get_serializer(result.sighting).data
        location = request.build_absolute_uri(reverse("api:sighting-detail", args=[result.sighting.pk]))
        if result.created:
            return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})
        return Response(body, status=status.HTTP_200_OK, headers={"Location": location, REPLAYED_HEADER: "true"})


@extend_schema_view(
    get=extend_schema(
        operation_id="sightings_retrieve",
        summary="One of your sightings",
        responses={200: SightingOutputSerializer, 401: doc.UNAUTHENTICATED, 404: doc.NOT_FOUND},
        parameters=[doc.WWW_AUTHENTICATE],
        tags=["sightings"],
    )
)
class SightingDetailView(generics.RetrieveAPIView):
    """One sighting, for its reporter only. Anyone else gets 404, so ids do not reveal whose is whose."""

    permission_classes = (IsAuthenticated,)
    serializer_class = SightingOutputSerializer

    def get_queryset(self) -> QuerySet[Sighting]:
        return Sighting.objects.by(self.request.user)


class CameraVoteView(APIView):
    """POST: the signed-in volunteer's verdict on a camera; voting again replaces it.

    201 for a first vote, 200 for a replacement. The reporter of the camera and a banned volunteer
    get 403 with the service's explanation; a merged camera's id counts as the camera it became.
    """

    permission_classes = (IsAuthenticated,)
    parser_classes = (JSONParser,)

    @extend_schema(
        operation_id="cameras_votes_create",
        summary="Your verdict on a camera",
        description="Voting again replaces your vote. Corrections (only with `confirm`) come as top-level "
        "keys or under `corrections`. A merged camera's id counts as the camera it became.",
        request=doc.VOTE_REQUEST,
        responses={
            201: OpenApiResponse(doc.VOTE_RESULT, description="Your first vote on this camera."),
            200: OpenApiResponse(doc.VOTE_RESULT, description="Your vote, replaced."),
            400: doc.BAD_BODY,
            401: doc.UNAUTHENTICATED,
            403: OpenApiResponse(doc.ref("Error"), description="You reported it, or may not vote; and why."),
            404: doc.NOT_FOUND,
            415: doc.UNSUPPORTED,
        },
        parameters=[doc.CAMERA_ID, doc.WWW_AUTHENTICATE],
        tags=["votes"],
    )
    def post(self, request: Request, pk: int) -> Response:
        incoming = VoteInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        started = timezone.now()
        try:
            vote = services.vote_cast(voter=request.user, camera_id=pk, **incoming.validated_data)
        except Camera.DoesNotExist:
            raise NotFound("No such camera.") from None
        except DjangoPermissionDenied as exc:
            raise ApiPermissionDenied(str(exc)) from None
        except DjangoValidationError as exc:
            raise serializers.ValidationError(_error_detail(exc)) from None
        # A replaced vote keeps its first created_at; comparing clocks, not a read before the
        # call, stays right when two requests race and when the id was a merged camera's.
        created = vote.created_at >= started
        vote.camera.refresh_from_db()
        return Response(
            VoteOutputSerializer(vote).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )
