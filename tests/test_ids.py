"""The shared id check: hostile ids never become paths, and the refusal explains ids."""

from __future__ import annotations

import pytest

from tools.errors import InvalidArgumentError
from tools.ids import HEX32, INTEGER, UUID, IdShape, check_id, path_segment

RUN = IdShape("Tallyfy run id", HEX32, "32 hexadecimal characters")
ANY = IdShape("widget id", None, "W-123")
GOOD = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "hostile", [f"zz/../{GOOD}", f"{GOOD}?x=y", f"{GOOD}#x", "../../etc/passwd", " ", ".", "?a=b"]
)
def test_hostile_ids_are_refused_with_what_ids_look_like(hostile: str) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        path_segment(hostile, RUN)
    text = err.value.for_model()
    assert "not a valid Tallyfy run id" in text
    assert "32 hexadecimal characters" in text
    assert "base URL" not in text


def test_a_well_formed_id_passes_unchanged() -> None:
    assert path_segment(GOOD, RUN) == GOOD


@pytest.mark.parametrize("value", ["a/b", "a?b=c", "a#b", "a%2Fb", "a b"])
def test_ids_of_undocumented_shape_stay_one_segment(value: str) -> None:
    segment = path_segment(value, ANY)
    assert "/" not in segment
    assert "?" not in segment
    assert "#" not in segment
    assert segment != value


@pytest.mark.parametrize("value", ["", " ", ".", "..", "a\nb", "x" * 301])
def test_what_can_never_be_an_id_is_refused_even_without_a_shape(value: str) -> None:
    with pytest.raises(InvalidArgumentError):
        check_id(value, ANY)


def test_shapes_match_the_documented_forms() -> None:
    assert UUID.fullmatch("43f93bfd-5c1c-434b-b09e-c3739a263c03")
    assert INTEGER.fullmatch("21005895")
    assert not INTEGER.fullmatch("0")
    assert HEX32.fullmatch(GOOD.upper())
    assert not HEX32.fullmatch(GOOD[:-1] + "g")
