# ruff: noqa: E501  (invitation texts)
"""Localised invitations (issue 12 §2): every language's labels, for every provider.

Each language's invitation lines follow the shape of the localised invitations of
``otj/rules/meeting_types/labels.py`` (the labels as Teams, Zoom, Webex and GoTo write them,
with made-up numbers): a Teams block with meeting ID and passcode, the Teams video-device
section, a Zoom personal link with its meeting ID and numeric passcode, a Webex join link with
its meeting number, and GoTo's room-system section.
"""

from __future__ import annotations

import pytest

from otj.rules.meeting_types.labels import LANGUAGES
from tests.unit.rules.helpers import process, rule

TEAMS = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Q%40thread.v2/0"

#: (Teams meeting ID label, Teams passcode label, video ID label, Zoom meeting ID label,
#: Zoom passcode label, Webex meeting number label, GoTo meeting ID label)
WORDING = {
    "en": (
        "Meeting ID",
        "Passcode",
        "Video ID",
        "Meeting ID",
        "Passcode",
        "Meeting number (access code)",
        "Meeting ID",
    ),
    "de": (
        "Besprechungs-ID",
        "Kenncode",
        "Video-ID",
        "Meeting-ID",
        "Kenncode",
        "Meeting-Kennnummer (Zugriffscode)",
        "Meeting-ID",
    ),
    "fr": (
        "ID de la réunion",
        "Code secret",
        "ID vidéo",
        "ID de réunion",
        "Code secret",
        "Numéro de réunion (code d'accès)",
        "ID de réunion",
    ),
    "es": (
        "Id. de reunión",
        "Código de acceso",
        "Id. de vídeo",
        "ID de reunión",
        "Código de acceso",
        "Número de reunión (código de acceso)",
        "ID de reunión",
    ),
    "it": (
        "ID riunione",
        "Passcode",
        "ID video",
        "ID riunione",
        "Passcode",
        "Numero riunione (codice di accesso)",
        "ID riunione",
    ),
    "nl": (
        "Vergaderings-id",
        "Wachtwoordcode",
        "Video-id",
        "Vergader-ID",
        "Toegangscode",
        "Vergadernummer (toegangscode)",
        "Vergader-ID",
    ),
    "pt": (
        "ID da Reunião",
        "Senha",
        "ID de vídeo",
        "ID da reunião",
        "Senha",
        "Número da reunião (código de acesso)",
        "ID da reunião",
    ),
    "nb": (
        "Møte-ID",
        "Passord",
        "Video-ID",
        "Møte-ID",
        "Passkode",
        "Møtenummer (tilgangskode)",
        "Møte-ID",
    ),
    "sv": (
        "Mötes-ID",
        "Lösenord",
        "Video-ID",
        "Mötes-ID",
        "Lösenkod",
        "Mötesnummer (åtkomstkod)",
        "Mötes-ID",
    ),
    "da": (
        "Møde-id",
        "Adgangskode",
        "Video-id",
        "Møde-id",
        "Adgangskode",
        "Mødenummer (adgangskode)",
        "Møde-id",
    ),
    "fi": (
        "Kokouksen tunnus",
        "Tunnuskoodi",
        "Videotunnus",
        "Kokouksen tunnus",
        "Salasana",
        "Kokouksen numero (käyttökoodi)",
        "Kokouksen tunnus",
    ),
    "pl": (
        "Identyfikator spotkania",
        "Kod dostępu",
        "Identyfikator wideo",
        "Identyfikator spotkania",
        "Kod dostępu",
        "Numer spotkania (kod dostępu)",
        "Identyfikator spotkania",
    ),
    "ja": (
        "会議 ID",
        "パスコード",
        "ビデオ ID",
        "ミーティングID",
        "パスコード",
        "ミーティング番号 (アクセス コード)",
        "会議 ID",
    ),
    "zh": ("会议 ID", "密码", "视频 ID", "会议号", "密码", "会议号 (访问码)", "会议 ID"),
    "ko": ("회의 ID", "암호", "비디오 ID", "회의 ID", "암호", "회의 번호 (액세스 코드)", "회의 ID"),
}


def test_every_language_of_the_tables_is_tested() -> None:
    assert set(WORDING) == set(LANGUAGES)
    assert len(LANGUAGES) == 15


@pytest.mark.parametrize("language", sorted(WORDING))
def test_teams_sip_guest_join(language: str) -> None:
    meeting_id, passcode = WORDING[language][0], WORDING[language][1]
    body = f"Microsoft Teams\n<{TEAMS}>\n{meeting_id}: 351 772 904 188\n{passcode}: Xa9bQ2\n"
    meeting = process(rule("teamssipguestjoin"), body=body)
    assert meeting.alias == "351772904188.Xa9bQ2@teams.pexip.me", meeting.trace


@pytest.mark.parametrize("language", sorted(WORDING))
def test_teams_video_device_section(language: str) -> None:
    video_id = WORDING[language][2]
    body = f"Microsoft Teams\n<{TEAMS}>\n________________\nteams@vc.example.com\n{video_id}: 125 181 807 2\n"
    cisco = f"Microsoft Teams\n<{TEAMS}>\nacme@m.webex.com\n{video_id}: 111 222 333\n"
    assert process(rule("teams"), body=body).alias == "1251818072@vc.example.com"
    assert process(rule("ciscoteamsbody"), body=cisco).alias == "111222333.acme@m.webex.com"


@pytest.mark.parametrize("language", sorted(WORDING))
def test_zoom_personal_link_with_numeric_passcode(language: str) -> None:
    meeting_id, passcode = WORDING[language][3], WORDING[language][4]
    body = f"Zoom\nhttps://acme.zoom.us/my/anna.silva\n\n{meeting_id}: 806 378 7231\n{passcode}: 441905\n"
    meeting = process(rule("zoom", include_pin=True), body=body)
    assert meeting.alias == "8063787231.441905@zoomcrc.com", meeting.trace


@pytest.mark.parametrize("language", sorted(WORDING))
def test_webex_join_link_with_meeting_number(language: str) -> None:
    number = WORDING[language][5]
    body = f"Webex\nhttps://acme.webex.com/acme/j.php?MTID=m1a2b3c\n{number}: 2551 234 5678\n"
    assert process(rule("webex"), body=body).alias == "25512345678@acme.webex.com"


@pytest.mark.parametrize("language", sorted(WORDING))
def test_goto_room_system_section(language: str) -> None:
    meeting_id = WORDING[language][6]
    body = f"GoTo\n67.217.95.2 / inroomlink.goto.com\n{meeting_id}: 123 456 789\n"
    assert process(rule("gotomeeting"), body=body).alias == "123456789@inroomlink.goto.com"
