"""Photo sanitising: a stored photo never carries the volunteer's metadata, and bad uploads are refused.

Every test image is drawn here with Pillow, so no binary fixture hides what is being tested.
"""

from __future__ import annotations

import io
import random
import struct
import time
import zlib
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from PIL import ExifTags, Image, ImageCms

from mapapp import photos, services
from mapapp.models import Sighting

# The Sydney Opera House: southern and eastern, so both signs are exercised.
LAT, LON = -33.856784, 151.215297
MAKER, MODEL, TAKEN = "AliceCam", "Stalker 3000", "2024:05:01 07:42:00"
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="alice-xmp-secret"/>'
    b"</rdf:RDF></x:xmpmeta>"
)
COMMENT = b"alice-comment-secret"
# Strings from the source's metadata; none may appear anywhere in a stored photo.
LEAKS = (b"Exif\x00\x00", b"AliceCam", b"Stalker", b"2024:05:01", b"alice-xmp-secret", b"adobe:ns:meta", COMMENT)
TOO_LARGE = "This image is too large to process (over 40 megapixels)."
NOT_AN_IMAGE = "This file is not an image (we accept JPEG, PNG and WebP)."
DAMAGED = "The image file is damaged or incomplete."
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def _encode(image: Image.Image, format: str = "JPEG", **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=format, **params)
    return out.getvalue()


def _upload(content: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def _dms(degrees: float) -> tuple[float, float, float]:
    degrees = abs(degrees)
    minutes = (degrees - int(degrees)) * 60
    return (float(int(degrees)), float(int(minutes)), (minutes - int(minutes)) * 60)


def _revealing_exif(orientation: int = 1, without: tuple[int, ...] = ()) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = MAKER
    exif[ExifTags.Base.Model] = MODEL
    exif[ExifTags.Base.DateTime] = TAKEN
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "S" if LAT < 0 else "N",
        ExifTags.GPS.GPSLatitude: _dms(LAT),
        ExifTags.GPS.GPSLongitudeRef: "W" if LON < 0 else "E",
        ExifTags.GPS.GPSLongitude: _dms(LON),
    }
    for tag in without:
        del exif[ExifTags.IFD.GPSInfo][tag]
    return exif


def _revealing_photo(format: str = "JPEG") -> bytes:
    """A photo carrying every kind of metadata its format can hold: EXIF with GPS, XMP, ICC, comment."""
    image = Image.new("RGB", (320, 240), BLUE)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = _revealing_exif().tobytes()
    if format == "PNG":
        from PIL.PngImagePlugin import PngInfo

        text = PngInfo()
        text.add_itxt("XML:com.adobe.xmp", XMP.decode())
        text.add_text("Comment", COMMENT.decode())
        return _encode(image, "PNG", exif=exif, icc_profile=icc, pnginfo=text)
    if format == "WEBP":
        return _encode(image, "WEBP", exif=exif, xmp=XMP, icc_profile=icc)
    return _encode(image, "JPEG", exif=exif, xmp=XMP, icc_profile=icc, comment=COMMENT)


def _jpeg_markers(content: bytes) -> list[int]:
    """The JPEG segment markers before the image data; metadata lives in APPn (0xE1 to 0xEF) and COM (0xFE)."""
    markers, pos = [], 2
    while pos < len(content):
        marker = content[pos + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: pixel data follows
            break
        pos += 2 + struct.unpack(">H", content[pos + 2 : pos + 4])[0]
    return markers


def _noise(size: tuple[int, int]) -> Image.Image:
    return Image.frombytes("RGB", size, random.Random(7).randbytes(size[0] * size[1] * 3))


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny real PNG whose header claims other dimensions (with a valid checksum)."""
    content = bytearray(_encode(Image.new("1", (8, 8)), "PNG"))
    ihdr = bytes(content[12:16]) + struct.pack(">II", width, height) + bytes(content[24:29])
    content[16:24] = ihdr[4:12]
    content[29:33] = struct.pack(">I", zlib.crc32(ihdr))
    return bytes(content)


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A tiny real JPEG whose frame header claims other dimensions."""
    content = bytearray(_encode(Image.new("L", (16, 16)), "JPEG"))
    sof = content.index(b"\xff\xc0")
    content[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(content)


def _rejection(upload: object) -> str:
    with pytest.raises(photos.PhotoRejected) as excinfo:
        photos.sanitise(upload)
    return str(excinfo.value)


# --- Metadata -------------------------------------------------------------------------------


@pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP"])
def test_a_photo_is_stored_without_any_metadata(format):
    source = _revealing_photo(format)
    assert all(leak in source for leak in (b"AliceCam", b"alice-xmp-secret")), "the source must carry the secrets"

    photo = photos.sanitise(_upload(source))

    stored = Image.open(io.BytesIO(photo.content))
    assert stored.format == "JPEG"
    assert not stored.getexif()
    assert not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment"} & set(stored.info)
    assert [leak for leak in LEAKS if leak in photo.content] == []
    assert b"ICC_PROFILE" not in photo.content
    assert not [m for m in _jpeg_markers(photo.content) if 0xE1 <= m <= 0xEF or m == 0xFE]


@pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP"])
def test_the_original_gps_position_is_offered_before_it_is_stripped(format):
    photo = photos.sanitise(_upload(_revealing_photo(format)))

    assert photo.gps == pytest.approx((LAT, LON), abs=1e-5)


def test_a_photo_without_gps_offers_no_position():
    photo = photos.sanitise(_upload(_encode(Image.new("RGB", (64, 48), BLUE))))

    assert photo.gps is None


def test_a_photo_with_half_a_gps_position_offers_none():
    exif = _revealing_exif(without=(ExifTags.GPS.GPSLongitudeRef,))

    photo = photos.sanitise(_upload(_encode(Image.new("RGB", (64, 48)), exif=exif.tobytes())))

    assert photo.gps is None


# --- Orientation and size -------------------------------------------------------------------


def test_a_sideways_phone_photo_is_stored_upright():
    image = Image.new("RGB", (300, 200), WHITE)
    image.paste(RED, (0, 0, 40, 40))  # top left as the sensor saw it
    source = _encode(image, exif=_revealing_exif(orientation=6).tobytes())  # "rotate 90° clockwise to view"

    photo = photos.sanitise(_upload(source))

    stored = Image.open(io.BytesIO(photo.content)).convert("RGB")
    assert (photo.width, photo.height) == stored.size == (200, 300)
    red, green, blue = stored.getpixel((190, 10))  # the marker, now top right
    assert red > 200
    assert max(green, blue) < 60
    assert min(stored.getpixel((10, 10))) > 200  # top left is white


@pytest.mark.parametrize(
    ("size", "expected"),
    [((5000, 3000), (2048, 1229)), ((3000, 5000), (1229, 2048)), ((640, 480), (640, 480))],
)
@pytest.mark.parametrize("format", ["JPEG", "PNG"])
def test_a_big_photo_is_shrunk_to_2048_pixels_on_its_long_edge_keeping_its_shape(size, expected, format):
    photo = photos.sanitise(_upload(_encode(Image.new("RGB", size, BLUE), format)))

    assert (photo.width, photo.height) == expected
    assert Image.open(io.BytesIO(photo.content)).size == expected


# --- Accepted formats -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_a_transparent_png_is_accepted_with_a_white_background(mode):
    if mode == "P":  # a palette whose entry 0 (black) is marked transparent
        image = Image.new("P", (100, 100), 0)
        image.putpalette([0, 0, 0, 0, 0, 255])
        image.info["transparency"] = 0
        image.paste(1, (30, 30, 70, 70))
    else:
        image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
        image.paste((0, 0, 255, 255), (30, 30, 70, 70))
        image = image.convert(mode)

    photo = photos.sanitise(_upload(_encode(image, "PNG"), name="photo.png", content_type="image/png"))

    stored = Image.open(io.BytesIO(photo.content)).convert("RGB")
    assert min(stored.getpixel((5, 5))) > 245  # transparent turned white, not black
    assert stored.getpixel((50, 50)) != stored.getpixel((5, 5))


def test_a_webp_photo_is_accepted():
    photo = photos.sanitise(_upload(_encode(Image.new("RGB", (120, 80), RED), "WEBP"), name="photo.webp"))

    assert (photo.width, photo.height) == (120, 80)
    assert Image.open(io.BytesIO(photo.content)).format == "JPEG"


def test_a_photo_already_read_by_a_form_is_read_again_from_the_start():
    upload = _upload(_encode(Image.new("RGB", (64, 48), RED)))
    upload.read()

    assert photos.sanitise(upload).width == 64


# --- Rejections -----------------------------------------------------------------------------


def test_a_photo_over_10_mb_is_rejected_with_its_size_limit(settings):
    upload = _upload(b"\xff" * (settings.PHOTO_MAX_BYTES + 1))

    assert _rejection(upload) == "The photo is larger than 10 MB."


def test_a_file_of_exactly_10_mb_is_judged_on_its_content_not_its_size(settings):
    assert _rejection(_upload(b"\0" * settings.PHOTO_MAX_BYTES)) == NOT_AN_IMAGE


def test_a_declared_size_over_the_limit_is_rejected_without_reading_the_file(settings):
    class Unreadable(io.BytesIO):
        def read(self, *args: object) -> bytes:
            raise AssertionError("the file was read")

    upload = UploadedFile(Unreadable(), name="photo.jpg", size=settings.PHOTO_MAX_BYTES + 1)

    assert _rejection(upload) == "The photo is larger than 10 MB."


def test_an_endless_stream_without_a_size_is_cut_off_after_the_limit():
    class Endless:
        def read(self, n: int = -1) -> bytes:
            if n < 0:
                raise AssertionError("asked to read everything")
            return b"\xff" * n

    assert _rejection(Endless()) == "The photo is larger than 10 MB."


def test_a_text_file_named_like_a_photo_is_rejected_as_not_an_image():
    upload = _upload(b"Definitely a photo, trust me.\n" * 100, name="photo.jpg", content_type="image/jpeg")

    assert _rejection(upload) == NOT_AN_IMAGE


def test_an_empty_file_is_rejected_as_not_an_image():
    assert _rejection(_upload(b"")) == NOT_AN_IMAGE


@pytest.mark.parametrize("format", ["GIF", "BMP", "TIFF", "PDF", "ICO"])
def test_an_image_in_a_format_we_do_not_accept_is_rejected(format):
    source = _encode(Image.new("RGB", (64, 48), RED), format)

    assert _rejection(_upload(source, name="photo.jpg")) == NOT_AN_IMAGE


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(_png_claiming(8000, 6000), id="png-48MP-over-our-limit"),
        pytest.param(_jpeg_claiming(10000, 10000), id="jpeg-100MP-where-pillow-only-warns"),
        pytest.param(_png_claiming(20000, 20000), id="png-400MP-where-pillow-raises"),
        pytest.param(_jpeg_claiming(65000, 65000), id="jpeg-largest-possible"),
    ],
)
def test_a_decompression_bomb_is_rejected_before_its_pixels_are_decoded(source):
    started = time.monotonic()

    # Had the pixels been decoded, the tiny data behind the header would read as "damaged".
    assert _rejection(_upload(source)) == TOO_LARGE
    assert time.monotonic() - started < 1


def test_a_real_decompression_bomb_made_of_blank_pixels_is_rejected():
    source = _encode(Image.new("1", (7000, 7000)), "PNG")
    assert len(source) < 100_000  # 49 megapixels in a small file

    assert _rejection(_upload(source)) == TOO_LARGE


@pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP"])
def test_a_truncated_photo_is_rejected_as_damaged(format):
    source = _encode(_noise((400, 300)), format)

    assert _rejection(_upload(source[: len(source) // 2])) == DAMAGED


# --- Through the service --------------------------------------------------------------------


def test_a_submitted_sighting_stores_its_photo_without_exif(volunteer, isolated_media):
    result = services.sighting_submit(
        reporter=volunteer, data={"lat": 47.37, "lon": 8.54}, photo=_upload(_revealing_photo())
    )

    sighting = Sighting.objects.get(pk=result.sighting.pk)
    stored = Path(sighting.photo.path)
    assert stored.is_relative_to(isolated_media)
    content = stored.read_bytes()
    assert not Image.open(io.BytesIO(content)).getexif()
    assert [leak for leak in LEAKS if leak in content] == []


def test_a_sighting_with_a_bad_photo_is_refused_and_leaves_nothing_behind(volunteer, isolated_media):
    bad = _upload(b"Definitely a photo, trust me.\n", name="photo.jpg")

    with pytest.raises(ValidationError) as excinfo:
        services.sighting_submit(reporter=volunteer, data={"lat": 47.37, "lon": 8.54}, photo=bad)

    assert excinfo.value.message_dict == {"photo": [NOT_AN_IMAGE]}
    assert not Sighting.objects.exists()
    assert [p for p in Path(isolated_media).rglob("*") if p.is_file()] == []
