"""Stub: replaced by the address-search endpoint."""

from django.http import JsonResponse


def search(request):
    return JsonResponse({"error": "search unavailable"}, status=503)
