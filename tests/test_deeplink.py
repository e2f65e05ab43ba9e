"""Operators' links: the payload grammar within Telegram's limits, tolerant of damage."""

from __future__ import annotations

import pytest

from bot.deeplink import MAX_LENGTH, Preset, build, parse

LANGS = ("it", "en", "uk")


def test_ukrainian_entry_point(res):
    assert parse("ua", res.kb, LANGS) == Preset(lang="uk", need="ukraine", audience="ukraine")


def test_school_mediator_link_for_cinisello(res):
    preset = parse("len_c015077_nschool", res.kb, LANGS)
    assert preset == Preset(lang="en", comune="015077", need="school")


@pytest.mark.parametrize("preset", [
    Preset(lang="uk", comune="015209", age="31+", need="family-reunification"),
    Preset(service="spazio-immigrazione"),
    Preset(lang="en", comune="108033", age="0-5", need="early-childhood", service="contaminiamoci-di-cultura"),
])
def test_build_and_parse_round_trip_within_telegram_limits(res, preset):
    payload = build(preset, res.kb)
    assert len(payload) <= MAX_LENGTH
    assert all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in payload)
    assert parse(payload, res.kb, LANGS) == preset


@pytest.mark.parametrize("payload", ["", "x", "lzz", "c12345", "nnope", "a-3", "s../x", "ua ua", "é", "l" * 65])
def test_damaged_payload_gives_no_or_partial_preset(res, payload):
    preset = parse(payload, res.kb, LANGS)
    assert preset.comune is None and preset.service is None


def test_unknown_parts_are_ignored_but_good_ones_kept(res):
    assert parse("zz_c015032_qq", res.kb, LANGS) == Preset(comune="015032")
