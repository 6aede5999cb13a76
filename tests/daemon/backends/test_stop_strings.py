"""The embedded backend's own stop string matching: what reaches the client, and which matched."""

from __future__ import annotations

from roundhouse.daemon.backends.stop_strings import StopMatcher


def run(stops: list[str], pieces: list[str]) -> tuple[str, str | None]:
    matcher = StopMatcher(stops)
    sent = "".join(matcher.feed(piece) for piece in pieces) + matcher.flush()
    return sent, matcher.matched


def test_a_stop_split_over_pieces_is_cut_and_named() -> None:
    assert run(["END"], ["one two E", "N", "D three"]) == ("one two ", "END")


def test_the_earliest_stop_in_the_text_wins_not_the_first_listed() -> None:
    assert run(["7", "4"], ["1, 2, 3, 4, 5, 6, 7"]) == ("1, 2, 3, ", "4")


def test_a_held_back_start_that_never_completes_is_sent_at_the_end() -> None:
    assert run(["END"], ["the E", "N"]) == ("the EN", None)
    assert run(["END"], ["the E", "Nx"]) == ("the ENx", None)


def test_nothing_is_held_back_without_stops() -> None:
    matcher = StopMatcher([])
    assert matcher.feed("E") == "E" and matcher.matched is None
