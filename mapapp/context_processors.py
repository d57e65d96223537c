from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    """Settings every page template needs: the site name and the configured tile server."""
    return {
        "SITE_NAME": settings.SITE_NAME,
        "TILE_URL": settings.TILE_URL,
        "TILE_ATTRIBUTION": settings.TILE_ATTRIBUTION,
    }
