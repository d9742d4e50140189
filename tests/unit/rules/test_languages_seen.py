# ruff: noqa: E501  (invitation texts)
"""Localised labels as the vendors wrote them (issue 12 §2): the sources of ``labels.py``.

Each case below is a fragment of an invitation named in ``label_sources.py`` (the join links are
shortened to ``TEAMS``, query tokens and unrelated lines left out; labels, layout and numbers
are as found), processed through the public API. Each names the label it depends on: the case
checks that the label is in the tables and that the fragment needs it, so removing the label
fails it.
"""

from __future__ import annotations

import pytest

from otj.rules.meeting_types.label_sources import SOURCES, UNSOURCED
from otj.rules.meeting_types.labels import LANGUAGES, entries, labels
from tests.unit.rules.helpers import process, rule

TEAMS = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Q%40thread.v2/0"

#: (source key, label kind, label, meeting type, rule settings, fragment, alias)
SEEN = [
    # English, newer video-device section with Cisco's tenant key
    (
        "teams-en",
        "conference_id",
        "video id",
        "ciscoteamsbody",
        {},
        f"Microsoft Teams Need help?<https://aka.ms/JoinTeamsMeeting?omkt=en-US>\nJoin the meeting now<{TEAMS}>\nMeeting ID: 390 372 824 949\nPasscode: pHnEBH\n________________________________\nJoin on a video conferencing device\nTenant key: unhcr2@m.webex.com\nVideo ID: 126 377 822 5\n",
        "1263778225.unhcr2@m.webex.com",
    ),
    # English, newer section with a Pexip tenant ("More info" link left out: it would give the ID too)
    (
        "teams-en",
        "conference_id",
        "video id",
        "teams",
        {},
        f"Join the meeting now<{TEAMS}>\nMeeting ID: 366 460 597 068\nPasscode: chEe56\n________________________________\nJoin on a video conferencing device\nTenant key: teams@meet.um.dk<mailto:teams@meet.um.dk>\nVideo ID: 124 244 419 4\n",
        "1242444194@meet.um.dk",
    ),
    # Danish
    (
        "teams-da",
        "meeting_id",
        "møde-id",
        "teamssipguestjoin",
        {},
        f"Microsoft Teams Har du brug for hjælp?<https://aka.ms/JoinTeamsMeeting?omkt=da-DK>\nTilmeld dig mødet nu<{TEAMS}>\nMøde-id: 320 012 355 657\nAdgangskode: L5upfx\n________________________________\n",
        "320012355657.L5upfx@teams.pexip.me",
    ),
    (
        "teams-da",
        "conference_id",
        "video-id",
        "teams",
        {},
        f"Tilmeld dig mødet nu<{TEAMS}>\nMøde-id: 320 012 355 657\nAdgangskode: L5upfx\n________________________________\nTilmeld dig på en enhed til videomøder\nLejernøgle: teams@meet.um.dk\nVideo-id: 125 181 807 2\n",
        "1251818072@meet.um.dk",
    ),
    # French (Canada)
    (
        "teams-fr",
        "meeting_id",
        "id de la réunion",
        "teamssipguestjoin",
        {},
        f"Réunion Microsoft Teams\nParticipez à partir de votre ordinateur, de l’application mobile ou d’un appareil de la salle\nCliquez ici pour vous joindre à la réunion<{TEAMS}>\nID de la réunion : 283 261 103 132\nCode secret : bsLMWx\n",
        "283261103132.bsLMWx@teams.pexip.me",
    ),
    # Italian
    (
        "teams-it",
        "meeting_id",
        "id riunione",
        "teamssipguestjoin",
        {},
        f"Fai clic qui per partecipare alla riunione<{TEAMS}>\nID riunione: 358 365 590 221\nPasscode: RyA6GF\n",
        "358365590221.RyA6GF@teams.pexip.me",
    ),
    (
        "zoom-it",
        "passcode",
        "codice d'accesso",
        "zoom",
        {"include_pin": True},
        "Link di accesso al Webinar: https://us06web.zoom.us/j/86248568208\n\nID riunione: 862 4856 8208\nCodice d'accesso: 559597",
        "86248568208.559597@zoomcrc.com",
    ),
    # German Teams, 2022: Microsoft's template misspelt the label for a while
    (
        "teams-de-typo",
        "meeting_id",
        "besprchungs-id",
        "teamssipguestjoin",
        {},
        f"Microsoft Teams-Besprechung\n<{TEAMS}>\nBesprchungs-ID: 371 519 285 955\nPasscode: AAAA1111\n",
        "371519285955.AAAA1111@teams.pexip.me",
    ),
    # German Zoom
    (
        "zoom-de",
        "passcode",
        "kenncode",
        "zoom",
        {"include_pin": True},
        "[Zoom Link Day 1](https://zoom.us/j/93041152208)\nMeeting-ID: 930 4115 2208\nKenncode: 795548\n",
        "93041152208.795548@zoomcrc.com",
    ),
    # Polish (a project's test data)
    (
        "teams-pl",
        "meeting_id",
        "identyfikator spotkania",
        "teamssipguestjoin",
        {},
        "Spotkanie w Microsoft Teams\nDołącz: https://teams.microsoft.com/meet/393216444363987\nIdentyfikator spotkania: 393 216 444 363 987\nKod dostępu: KY3kJ9PY",
        "393216444363987.KY3kJ9PY@teams.pexip.me",
    ),
    # Norwegian (a project's anonymised test data)
    (
        "teams-nb",
        "passcode",
        "passord",
        "teamssipguestjoin",
        {},
        f"Join<{TEAMS}>\nMøte-ID: 111 111 111 111\nPassord: 5bygmt\nLast nedTeams<https://www.microsoft.com/en-us/microsoft-teams/download-app> | Join on the web<https://www.microsoft.com/microsoft-teams/join-a-meeting>\nFinn ut mer<https://aka.ms/JoinTeamsMeeting> | Møtealternativer",
        "111111111111.5bygmt@teams.pexip.me",
    ),
    # Japanese, Microsoft Graph's example (its anonymised host t.abcd.vc read as Poly's t.plcm.vc)
    (
        "teams-ja-graph",
        "conference_id",
        "vtc 会議 id",
        "polyteamsbody",
        {},
        f"Microsoft Teams 会議に参加<{TEAMS}>\nビデオ会議デバイスで参加\n000000000@t.plcm.vc VTC 会議 ID: 0180300000\n",
        "000000000.0180300000@t.plcm.vc",
    ),
]


@pytest.mark.parametrize(
    ("source", "kind", "label", "meeting_type", "settings", "body", "alias"),
    SEEN,
    ids=[f"{case[0]}-{case[2]}" for case in SEEN],
)
def test_label_as_the_vendor_wrote_it(
    source: str,
    kind: str,
    label: str,
    meeting_type: str,
    settings: dict[str, bool],
    body: str,
    alias: str,
) -> None:
    backed = {(k, entry.text) for _, k, entry in entries() if source in entry.sources}
    assert (kind, label) in backed, f"{label!r} ({kind}) does not name source {source!r}"
    assert label in body.lower()
    meeting = process(rule(meeting_type, **settings), body=body)
    assert meeting.alias == alias, meeting.trace


@pytest.mark.parametrize(
    ("meeting_type", "settings", "body"),
    [(case[3], case[4], case[5]) for case in SEEN],
    ids=[f"{case[0]}-{case[2]}" for case in SEEN],
)
def test_the_fragment_needs_its_label(
    meeting_type: str, settings: dict[str, bool], body: str
) -> None:
    """Without the label's words the same fragment gives another alias or none."""
    case = next(case for case in SEEN if case[5] == body)
    index = body.lower().index(case[2])
    blanked = body[:index] + "Xyzzy" + body[index + len(case[2]) :]
    meeting = process(rule(meeting_type, **settings), body=blanked)
    assert meeting.alias != case[6], meeting.trace


def test_every_label_names_known_sources() -> None:
    named = set()
    for language, kind, label in entries():
        assert label.sources, (language, kind, label.text)
        assert set(label.sources) <= set(SOURCES), (language, kind, label)
        assert label.text == label.text.lower(), label
        named.update(label.sources)
    assert named == set(SOURCES), f"sources no label names: {set(SOURCES) - named}"


def test_unsourced_labels_say_so_and_sourced_ones_say_how() -> None:
    assert SOURCES[UNSOURCED].startswith("unsourced:")
    tiers = ("seen:", "vendor strings:", "vendor docs:", "third party:")
    for key, text in SOURCES.items():
        if key != UNSOURCED:
            assert text.startswith(tiers), key


def test_every_language_keeps_every_kind() -> None:
    kinds = set(LANGUAGES["en"])
    for language, table in LANGUAGES.items():
        assert set(table) == kinds, language
        assert all(table[kind] for kind in kinds), language


def test_a_phone_conference_id_is_not_a_video_id() -> None:
    """Teams' older English template: "Conference ID" is the phone one, never the VTC ID."""
    assert "conference id" not in labels("conference_id")
    body = f"Microsoft Teams meeting\n<{TEAMS}>\nJoin by phone\nteams@vc.example.com\nConference ID: 636 049 49#\n"
    assert process(rule("teams"), body=body).alias is None
