# ruff: noqa: E501  (invitation texts)
"""Localised invitations (issue 12 §2): every language's labels, for every provider.

Each language's invitation lines follow the shape of the localised invitations of
``otj/rules/meeting_types/labels.py`` (made-up numbers): a Teams block with meeting ID and
passcode, the Teams video-device section, a Zoom personal link with its meeting ID and numeric
passcode, a Webex join link with its meeting number, and GoTo's room-system section. The comment
on each language's row says which labels a source backs (each label's source keys are in
``labels.py``, the sources in ``label_sources.py``); the others are the tables' unsourced
wording, tested so that the tables keep working, not as evidence. ``test_languages_seen.py``
rebuilds invitations as they were found.
"""

from __future__ import annotations

import pytest

from otj.rules.meeting_types.labels import LANGUAGES
from tests.unit.rules.helpers import process, rule

TEAMS = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Q%40thread.v2/0"

#: (Teams meeting ID label, Teams passcode label, video ID label, Zoom meeting ID label,
#: Zoom passcode label, Webex meeting number label, GoTo meeting ID label)
WORDING = {
    # en: all seen (teams-en, zoom-en, webex-en, goto-en)
    "en": ("Meeting ID", "Passcode", "Video ID", "Meeting ID", "Passcode",
           "Meeting number (access code)", "Meeting ID"),
    # de: Teams "Besprechungs-ID"/"Passcode", Zoom "Meeting-ID"/"Kenncode", Webex seen; Zoom also
    # vendor strings; GoTo "Meeting-ID" vendor docs; "Video-ID" unsourced
    "de": ("Besprechungs-ID", "Passcode", "Video-ID", "Meeting-ID", "Kenncode",
           "Meeting-Kennnummer (Zugriffscode)", "Meeting-ID"),
    # fr: Teams and Zoom "ID de la réunion"/"Code secret" seen, Zoom "Nº de réunion" vendor
    # strings; video ID, Webex, GoTo unsourced
    "fr": ("ID de la réunion", "Code secret", "ID vidéo", "Nº de réunion", "Code secret",
           "Numéro de réunion (code d'accès)", "ID de réunion"),
    # es: Teams seen; Zoom "ID de reunión"/"Código de acceso" vendor strings; Webex "Número de la
    # reunión (código de acceso)" third party; GoTo "ID de reunión" vendor docs; video ID unsourced
    "es": ("Id. de reunión", "Código de acceso", "Id. de vídeo", "ID de reunión",
           "Código de acceso", "Número de la reunión (código de acceso)", "ID de reunión"),
    # it: Teams and Zoom seen, Zoom vendor strings; GoTo "ID riunione" vendor docs; video ID and
    # Webex unsourced
    "it": ("ID riunione", "Passcode", "ID video", "ID riunione", "Passcode",
           "Numero riunione (codice di accesso)", "ID riunione"),
    # nl: Teams "Vergadering-id"/"Wachtwoordcode" third party; Zoom "Vergadering-ID"/"Wachtwoord"
    # vendor strings; video ID, Webex, GoTo unsourced
    "nl": ("Vergadering-id", "Wachtwoordcode", "Video-id", "Vergadering-ID", "Wachtwoord",
           "Vergadernummer (toegangscode)", "Vergader-ID"),
    # pt: Teams "ID da reunião" third party; Zoom "ID da reunião"/"Senha" vendor strings; GoTo
    # "ID de reunião" vendor docs; Teams passcode, video ID, Webex unsourced
    "pt": ("ID da Reunião", "Senha", "ID de vídeo", "ID da reunião", "Senha",
           "Número da reunião (código de acesso)", "ID de reunião"),
    # nb: Teams "Møte-ID"/"Passord" third party; the rest unsourced (Zoom has no Norwegian strings)
    "nb": ("Møte-ID", "Passord", "Video-ID", "Møte-ID", "Passkode",
           "Møtenummer (tilgangskode)", "Møte-ID"),
    # sv: Teams "Mötes-ID"/"Lösenord" third party; Zoom "Mötes-ID"/"Lösenkod" vendor strings and
    # seen; video ID, Webex, GoTo unsourced
    "sv": ("Mötes-ID", "Lösenord", "Video-ID", "Mötes-ID", "Lösenkod",
           "Mötesnummer (åtkomstkod)", "Mötes-ID"),
    # da: Teams seen; the rest unsourced (Zoom has no Danish strings)
    "da": ("Møde-id", "Adgangskode", "Video-id", "Møde-id", "Adgangskode",
           "Mødenummer (adgangskode)", "Møde-id"),
    # fi: "Kokouksen tunnus" third party only; the rest unsourced
    "fi": ("Kokouksen tunnus", "Tunnuskoodi", "Videotunnus", "Kokouksen tunnus", "Salasana",
           "Kokouksen numero (käyttökoodi)", "Kokouksen tunnus"),
    # pl: Teams third party; Zoom "Identyfikator spotkania"/"Kod dostępu" vendor strings; video
    # ID, Webex, GoTo unsourced
    "pl": ("Identyfikator spotkania", "Kod dostępu", "Identyfikator wideo",
           "Identyfikator spotkania", "Kod dostępu", "Numer spotkania (kod dostępu)",
           "Identyfikator spotkania"),
    # ja: Teams "会議 ID" seen, "パスコード" third party; Zoom "ミーティング ID"/"パスコード" vendor
    # strings; Webex "ミーティング番号" vendor docs; video ID, GoTo unsourced
    "ja": ("会議 ID", "パスコード", "ビデオ ID", "ミーティング ID", "パスコード",
           "ミーティング番号 (アクセス コード)", "会議 ID"),
    # zh: Teams "会议 ID" and "VTC 会议 ID" vendor docs; Zoom and Webex seen, Zoom vendor strings;
    # Teams passcode, GoTo unsourced
    "zh": ("会议 ID", "密码", "VTC 会议 ID", "会议号", "密码", "会议号（访问码）", "会议 ID"),
    # ko: Teams "모임 ID" vendor docs; Zoom seen and vendor strings; Teams passcode, video ID,
    # Webex, GoTo unsourced
    "ko": ("모임 ID", "암호", "비디오 ID", "회의 ID", "암호", "회의 번호 (액세스 코드)", "회의 ID"),
}  # fmt: skip


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


def test_chinese_zoom_invitation_as_seen() -> None:
    """Zoom's Chinese invitation: "加入 Zoom 会议", "会议号:", "密码:" (labels.py, CHINESE)."""
    body = "加入 Zoom 会议\nhttps://us06web.zoom.us/j/81738943299?pwd=Q2xvc2VkRm9yVGVzdA\n会议号: 817 3894 3299\n密码: 378822\n"
    meeting = process(rule("zoom", include_pin=True), body=body)
    assert meeting.alias == "81738943299.378822@zoomcrc.com", meeting.trace


def test_korean_zoom_invitation_as_seen() -> None:
    """Zoom's Korean invitation: "Zoom 회의 참가", "회의 ID:", "암호:" (labels.py, KOREAN)."""
    body = "Zoom 회의 참가\nhttps://zoom.us/j/97079917004?pwd=Q2xvc2VkRm9yVGVzdA\n\n회의 ID: 970 7991 7004\n암호: 10871\n"
    meeting = process(rule("zoom", include_pin=True), body=body)
    assert meeting.alias == "97079917004.10871@zoomcrc.com", meeting.trace


def test_chinese_webex_meeting_number_in_full_width_brackets() -> None:
    """Webex's Chinese invitation writes "会议号（访问码）：" with full-width brackets and colon."""
    body = (
        "您好，\nacme 邀请您加入以下 WebEx 会议。\n会议号（访问码）： 182 325 056\n会议密码： 1234\n"
        "到时间后，请加入会议。 https://acme.webex.com/acme/j.php?MTID=mdafae37f1bc\n"
    )
    meeting = process(rule("webex"), body=body)
    assert meeting.alias == "182325056@acme.webex.com", meeting.trace


@pytest.mark.parametrize(
    ("line", "meeting_type", "alias"),
    [
        # seen (English): Poly's and Cisco's addresses under "Join with a video conferencing device"
        (
            "813878896@t.plcm.vc VTC Conference ID: 017920684",
            "polyteamsbody",
            "813878896.017920684@t.plcm.vc",
        ),
        (
            "att@m.webex.com\nVideo Conference ID: 114 213 415 0",
            "ciscoteamsbody",
            "1142134150.att@m.webex.com",
        ),
        # MS docs: Microsoft's German and Chinese names of the VTC conference ID
        (
            "813878896@t.plcm.vc VTC-Konferenz-ID: 017920684",
            "polyteamsbody",
            "813878896.017920684@t.plcm.vc",
        ),
        (
            "813878896@t.plcm.vc VTC 会议 ID: 017920684",
            "polyteamsbody",
            "813878896.017920684@t.plcm.vc",
        ),
    ],
)
def test_video_device_section_as_seen(line: str, meeting_type: str, alias: str) -> None:
    body = f"Microsoft Teams meeting\n<{TEAMS}>\nJoin with a video conferencing device\n{line}\nAlternate VTC instructions\n"
    meeting = process(rule(meeting_type), body=body)
    assert meeting.alias == alias, meeting.trace
