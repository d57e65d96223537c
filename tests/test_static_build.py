"""Production's static build: collectstatic with hashed, compressed files, as `DEBUG=false` deploys it."""

from __future__ import annotations

from pathlib import Path

from django.core.management import call_command


def test_collectstatic_with_manifest_storage_builds_every_asset_our_pages_load(settings, tmp_path: Path):
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

    call_command("collectstatic", interactive=False, verbosity=0)

    built = {p.relative_to(settings.STATIC_ROOT).as_posix() for p in settings.STATIC_ROOT.rglob("*")}
    for asset in (
        "vendor/leaflet/leaflet.js",
        "js/cameramap.js",
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
    ):
        assert asset in built
        assert any(name.startswith(asset.rsplit(".", 1)[0] + ".") and name != asset for name in built), asset
    assert (settings.STATIC_ROOT / "staticfiles.json").exists()
