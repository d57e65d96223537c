"""Photo sanitising: the only way a volunteer's photo reaches storage.

A phone photo's metadata says where and when the volunteer stood, and with which device; stored
as-is, it would leak their movements to anyone who downloads it. So every photo is decoded, checked
and re-encoded from its pixels alone: nothing of the original file (EXIF, GPS, XMP, ICC profile,
comments, maker notes, trailing bytes) survives. This is the only module that imports Pillow for
processing uploads.
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
import warnings
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
# A 40 MP RGBA image already needs ~160 MB while decoding; larger ones are no phone's photo.
MAX_PIXELS = 40_000_000
# Pillow warns when opening 89-179 MP images and raises above that. Our own check below rejects
# everything over MAX_PIXELS from the header before any pixel is decoded, so the warning adds
# nothing; it is silenced once at import (warnings.catch_warnings per call is not thread-safe).
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
# Long edge of the stored photo: enough to read a camera's model from, small enough to store.
MAX_EDGE = 2048
JPEG_QUALITY = 85
# What Pillow raises on malformed data depends on the format and where it breaks.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)


class PhotoRejected(ValueError):
    """The upload cannot be stored; str() is a message to show the volunteer."""


@dataclass(frozen=True)
class SanitisedPhoto:
    content: bytes  # a JPEG without any metadata
    width: int
    height: int
    gps: tuple[float, float] | None  # (lat, lon) from the original's EXIF, to offer as the position


def sanitise(upload: Any) -> SanitisedPhoto:
    """Check an uploaded photo and re-encode it as a metadata-free JPEG.

    The file's name and declared content type are ignored: only Pillow's detection decides, and
    only for JPEG, PNG and WebP. Dimensions are checked from the header before any pixel is
    decoded, so a small file that inflates to gigabytes (a decompression bomb) costs nothing.
    EXIF orientation is applied before the tags are dropped, or portrait photos would lie on
    their side. Transparency is composited onto white; only the first frame of an animation is
    kept; a wide-gamut (e.g. Display P3) photo's colours are read as sRGB, slightly duller.
    Raises PhotoRejected for anything that is not a stored photo.
    """
    data = _read_capped(upload, settings.PHOTO_MAX_BYTES)
    too_large = PhotoRejected(f"This image is too large to process (over {MAX_PIXELS // 1_000_000} megapixels).")
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_large from None
    except UnidentifiedImageError:
        raise PhotoRejected("This file is not an image (we accept JPEG, PNG and WebP).") from None
    except _DECODE_ERRORS:
        raise PhotoRejected("The image file is damaged or incomplete.") from None
    if image.width * image.height > MAX_PIXELS:
        raise too_large
    try:
        return _reencode(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_large from None
    except _DECODE_ERRORS:
        raise PhotoRejected("The image file is damaged or incomplete.") from None


def _read_capped(upload: Any, limit: int) -> bytes:
    """The upload's bytes, reading at most limit + 1 so an endless stream cannot fill memory.

    A declared .size (Django's uploads have one) rejects a big file without reading it. Django's
    File.size raises AttributeError when it cannot tell, so a missing size is not an error.
    """
    too_big = PhotoRejected(f"The photo is larger than {limit / (1024 * 1024):g} MB.")
    try:
        size = upload.size
    except (AttributeError, OSError):
        size = None
    if isinstance(size, int) and size > limit:
        raise too_big
    # A form's validation may already have read it; a stream that cannot seek is read as it stands.
    with contextlib.suppress(AttributeError, OSError):
        upload.seek(0)
    data = upload.read(limit + 1)
    if not isinstance(data, bytes):
        raise PhotoRejected("This file is not an image (we accept JPEG, PNG and WebP).")
    if len(data) > limit:
        raise too_big
    return data


def _reencode(image: Image.Image) -> SanitisedPhoto:
    """Decode, orient, shrink and re-encode; the output image is built fresh so carries no `info`.

    Pillow's JPEG writer copies some source metadata by itself (the `comment` from `info`), so
    the pixels are pasted onto a new canvas rather than saving a converted copy of the source.
    """
    scale = MAX_EDGE / max(image.size)
    if scale < 1:  # let libjpeg decode at 1/2, 1/4 or 1/8 size: less memory, same result
        image.draft(None, (math.ceil(image.width * scale), math.ceil(image.height * scale)))
    image.load()  # raises on truncated or corrupt data
    gps = _gps_position(image)
    ImageOps.exif_transpose(image, in_place=True)
    image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    image.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS)

    canvas = Image.new("RGB", image.size, "white")
    canvas.paste(image, mask=image.getchannel("A") if image.mode == "RGBA" else None)
    out = io.BytesIO()
    canvas.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return SanitisedPhoto(content=out.getvalue(), width=canvas.width, height=canvas.height, gps=gps)


def _gps_position(image: Image.Image) -> tuple[float, float] | None:
    """(lat, lon) from the EXIF GPS tags, or None when absent, incomplete or implausible.

    A missing hemisphere reference gives None rather than a guess; (0, 0) is what some cameras
    write without a fix. Reading is best-effort: broken EXIF must never reject a photo.
    """
    try:
        tags = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        lat = _degrees(tags[ExifTags.GPS.GPSLatitude], tags[ExifTags.GPS.GPSLatitudeRef], "S")
        lon = _degrees(tags[ExifTags.GPS.GPSLongitude], tags[ExifTags.GPS.GPSLongitudeRef], "W")
    except Exception:  # any malformed EXIF just means "no position"
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        return None
    return None if (lat, lon) == (0.0, 0.0) else (lat, lon)


def _degrees(dms: Any, ref: str | bytes, negative_ref: str) -> float:
    degrees, minutes, seconds = (float(part) for part in dms)
    value = degrees + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii")
    if ref.strip().upper() not in ("N", "S", "E", "W"):
        raise ValueError("unknown hemisphere")
    return -value if ref.strip().upper() == negative_ref else value
