"""The OSM surveillance vocabulary: how a raw tag value becomes a stored value, and how it is counted."""

from __future__ import annotations

import math

import pytest

from mapapp import vocab
from mapapp.vocab import CLEAN, DIRTY, MAPPED, MISSING


@pytest.mark.parametrize("v", vocab.VOCABULARIES, ids=lambda v: v.osm_key)
def test_every_value_of_a_vocabulary_is_clean(v: vocab.Vocabulary) -> None:
    assert [v.normalise(value) for value in v.values] == [(value, CLEAN) for value in v.values]


@pytest.mark.parametrize("v", vocab.VOCABULARIES, ids=lambda v: v.osm_key)
def test_every_synonym_leads_to_a_value_of_its_vocabulary(v: vocab.Vocabulary) -> None:
    assert set(v.synonyms.values()) <= set(v.values)
    assert v.default in v.values


@pytest.mark.parametrize(
    ("v", "raw", "expected"),
    [
        (vocab.CAMERA_MOUNT, "traffic_signals", "traffic_signal"),  # OSM's own spelling
        (vocab.CAMERA_MOUNT, "street_light", "street_lamp"),
        (vocab.CAMERA_MOUNT, "roof", "building"),
        (vocab.CAMERA_TYPE, "ptz", "panning"),
        (vocab.CAMERA_TYPE, "PTZ", "panning"),
        (vocab.CAMERA_TYPE, "pan-tilt zoom", "panning"),
        (vocab.CAMERA_TYPE, "360", "dome"),
        (vocab.SURVEILLANCE_TYPE, "webcam", "camera"),
        (vocab.SURVEILLANCE_TYPE, "anpr", "ALPR"),
        (vocab.ZONE, "atm", "bank"),
        (vocab.OPERATOR_TYPE, "public_transport", "transit"),
    ],
)
def test_a_known_synonym_is_translated_and_counted_as_mapped(v: vocab.Vocabulary, raw: str, expected: str) -> None:
    assert v.normalise(raw) == (expected, MAPPED)


@pytest.mark.parametrize(("v", "raw"), [(vocab.CAMERA_MOUNT, "gantry"), (vocab.ZONE, "station")])
def test_a_well_formed_osm_value_we_do_not_list_becomes_other(v: vocab.Vocabulary, raw: str) -> None:
    assert v.normalise(raw) == ("other", MAPPED)


@pytest.mark.parametrize(
    ("v", "raw"),
    [
        (vocab.CAMERA_MOUNT, "wall/ceiling"),
        (vocab.CAMERA_TYPE, "dome;fixed"),
        (vocab.SURVEILLANCE, "privat"),
        (vocab.ZONE, "Station"),  # OSM values are case-sensitive
        (vocab.CAMERA_TYPE, "public"),  # a plain word, but camera:type has no "other"
        (vocab.ZONE, "area,street"),
    ],
)
def test_a_dirty_value_becomes_unknown_and_is_counted_as_dirty(v: vocab.Vocabulary, raw: str) -> None:
    assert v.normalise(raw) == ("unknown", DIRTY)


def test_a_dirty_surveillance_type_falls_back_to_camera_which_has_no_unknown() -> None:
    assert vocab.SURVEILLANCE_TYPE.normalise("Kamera") == ("camera", DIRTY)


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_a_missing_value_takes_the_default_and_is_counted_as_missing(raw: str | None) -> None:
    assert vocab.CAMERA_MOUNT.normalise(raw) == ("unknown", MISSING)
    assert vocab.SURVEILLANCE_TYPE.normalise(raw) == ("camera", MISSING)


def test_surrounding_spaces_do_not_make_a_value_dirty() -> None:
    assert vocab.CAMERA_TYPE.normalise(" dome ") == ("dome", CLEAN)


# --- Direction ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [("90", 90), (90, 90), ("0", 0), (0, 0), ("359", 359)])
def test_a_direction_in_whole_degrees_is_clean(raw: object, expected: int) -> None:
    assert vocab.normalise_direction(raw) == (expected, CLEAN)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("360", 0),  # a full turn is north
        (360, 0),
        ("N", 0),
        ("NE", 45),
        ("ne", 45),
        ("SW", 225),
        ("WNW", 292),  # 292.5, rounded to whole degrees
        ("45.4", 45),
        ("45°", 45),
    ],
)
def test_a_direction_that_translates_without_loss_is_mapped(raw: object, expected: int) -> None:
    assert vocab.normalise_direction(raw) == (expected, MAPPED)


@pytest.mark.parametrize(
    "raw",
    [
        "70;240",  # two cameras on one node: not guessed
        "90,125,270",
        "0 - 360",
        "forward",
        "north",
        "361",
        "400",
        "-10",
        math.nan,
        True,
    ],
)
def test_a_direction_list_junk_or_out_of_range_value_is_left_empty_and_dirty(raw: object) -> None:
    assert vocab.normalise_direction(raw) == (None, DIRTY)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("338-23", 0), ("44-89", 66), ("190-100", 325), ("0-90", 45), ("270 - 360", 315)],
)
def test_a_field_of_view_range_becomes_its_middle_going_clockwise(raw: str, expected: int) -> None:
    assert vocab.normalise_direction(raw) == (expected, MAPPED)


@pytest.mark.parametrize("raw", [None, "", " "])
def test_a_missing_direction_is_empty_and_missing(raw: object) -> None:
    assert vocab.normalise_direction(raw) == (None, MISSING)


# --- Height and angle --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("3", (3.0, CLEAN)),
        ("2.5", (2.5, CLEAN)),
        ("300", (300.0, CLEAN)),
        ("2.5 m", (2.5, MAPPED)),
        ("4m", (4.0, MAPPED)),
    ],
)
def test_a_height_in_metres_is_kept_with_or_without_its_unit(raw: str, expected: tuple[float, str]) -> None:
    assert vocab.normalise_height(raw) == expected


@pytest.mark.parametrize("raw", [0, "0", 9999, "301", "-1", "tall", "3 ft"])
def test_a_height_of_zero_or_beyond_300_m_or_junk_is_dirty(raw: object) -> None:
    assert vocab.normalise_height(raw) == (None, DIRTY)


def test_a_height_the_form_would_refuse_is_not_accepted_from_an_import() -> None:
    assert vocab.normalise_height("0.05") == (None, DIRTY)


def test_a_missing_height_is_empty_and_missing() -> None:
    assert vocab.normalise_height(None) == (None, MISSING)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("15", (15.0, CLEAN)), ("0", (0.0, CLEAN)), ("90", (90.0, CLEAN)), ("15°", (15.0, MAPPED))],
)
def test_a_tilt_between_level_and_straight_down_is_kept(raw: str, expected: tuple[float, str]) -> None:
    assert vocab.normalise_angle(raw) == expected


@pytest.mark.parametrize("raw", ["180", 360, "120", "-5", "steep"])
def test_an_angle_beyond_straight_down_is_a_field_of_view_in_the_wrong_key_and_dirty(raw: object) -> None:
    assert vocab.normalise_angle(raw) == (None, DIRTY)


def test_a_missing_angle_is_empty_and_missing() -> None:
    assert vocab.normalise_angle("") == (None, MISSING)
