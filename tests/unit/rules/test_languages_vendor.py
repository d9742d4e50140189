# ruff: noqa: E501  (invitation texts)
"""Localised labels from the vendors' own strings and documents (issue 12 §2), not seen invitations.

``test_languages_seen.py`` rebuilds invitations as they were found. The fragments here are built
from what a vendor publishes without a whole invitation behind it (``label_sources.py``):

- Zoom's invitation template in its iOS SDK (``zoom-ios-sdk``): the room-system section
  "Join from a H.323/SIP room system: / IP Address: … / Meeting ID: …" in each language,
  under a personal link so that only the label gives the meeting ID;
- the labels Zoom's Meeting SDK for Web shows (``zoom-web-sdk``): each value under its label
  below a Zoom link (Zoom's client wording, the invitation's own lines not being published);
- other projects' readers of Dutch and Portuguese Teams invitations and of Spanish Webex join
  details, and Cisco's localised article on its Teams video integration, which names the Teams
  video-device section's lines (``third party``);
- GoTo's, Cisco's and Microsoft's localised documentation of their own products (``vendor docs``).

Each case names the label it depends on: the label must name that source in ``labels.py`` and
the fragment must need it (with the label's words replaced the alias changes), so removing the
label, or its source, fails the case. Numbers are made up unless a source gave them.
"""

from __future__ import annotations

import pytest

from otj.rules.meeting_types.labels import entries
from tests.unit.rules.helpers import process, rule

TEAMS = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Q%40thread.v2/0"
MY = "https://acme.zoom.us/my/anna.silva"
J = "https://us06web.zoom.us/j/86248568208"
INCLUDE_PIN = {"include_pin": True}


def _room_section(heading: str, ip_label: str, id_label: str, sep: str = ":") -> str:
    """Zoom's IDS_INVITATION_EMAIL_BODY_323_1 under a personal link (template wording)."""
    return f"{MY}\n\n{heading}{sep}\n\n    {ip_label}{sep} 162.255.37.11\n    {id_label}{sep} 806 378 7231\n"


CISCO = "1112223334.acme@m.webex.com"


def _cvi(heading: str, key_label: str, id_label: str) -> str:
    """A Teams block's video-device section with Cisco's tenant key (labels as Cisco names them)."""
    key = f"{key_label}: " if key_label else ""
    return f"Microsoft Teams\n<{TEAMS}>\n________________\n{heading}\n{key}acme@m.webex.com\n{id_label}: 111 222 333 4\n"


#: (source key, label kind, label, meeting type, rule settings, fragment, alias)
VENDOR = [
    # Zoom's invitation template (iOS SDK), the room-system section
    ("zoom-ios-sdk", "meeting_id", "meeting-id", "zoom", {},
     _room_section("Treten Sie von einem H.323/SIP-Raumsystem bei", "IP-Adresse", "Meeting-ID"),
     "8063787231@zoomcrc.com"),
    ("zoom-ios-sdk", "meeting_id", "nº de réunion", "zoom", {},
     _room_section("Rejoindre à partir d’une salle de conférence H.323/SIP", "Adresse IP", "Nº de réunion", "\u00a0:"),
     "8063787231@zoomcrc.com"),
    ("zoom-ios-sdk", "meeting_id", "id de la reunión", "zoom", {},
     _room_section("Entre desde un Room System de H.323/SIP", "Dirección IP", "ID de la reunión"),
     "8063787231@zoomcrc.com"),
    ("zoom-ios-sdk", "meeting_id", "id riunione", "zoom", {},
     _room_section("Partecipa da un sistema stanza H.323/SIP", "Indirizzo IP", "ID riunione"),
     "8063787231@zoomcrc.com"),
    ("zoom-ios-sdk", "meeting_id", "id da reunião", "zoom", {},
     _room_section("Participe a partir de um sistema de sala H.323/SIP", "Endereço IP", "ID da reunião"),
     "8063787231@zoomcrc.com"),
    ("zoom-ios-sdk", "meeting_id", "ミーティング id", "zoom", {},
     _room_section("H.323/SIP ルーム システムから参加", "IP アドレス", "ミーティング ID"),
     "8063787231@zoomcrc.com"),
    ("zoom-ios-sdk", "meeting_id", "会议id", "zoom", {},
     _room_section("通过H.323/SIP 会议室系统加入", "IP地址", "会议ID"),
     "8063787231@zoomcrc.com"),
    ("zoom-ios-sdk", "meeting_id", "회의 id", "zoom", {},
     _room_section("H.323/SIP 회의실 시스템을 통해 참가", "IP 주소", "회의 ID"),
     "8063787231@zoomcrc.com"),
    # Zoom's template: "Password: %@" (older template) in Korean and Japanese
    ("zoom-ios-sdk", "passcode", "비밀번호", "zoom", INCLUDE_PIN,
     f"{J}\n회의 ID: 862 4856 8208\n비밀번호: 559597\n", "86248568208.559597@zoomcrc.com"),
    ("zoom-ios-sdk", "passcode", "パスワード", "zoom", INCLUDE_PIN,
     f"{J}\nミーティング ID: 862 4856 8208\nパスワード: 559597\n", "86248568208.559597@zoomcrc.com"),
    # Zoom's client labels (Meeting SDK for Web): meeting ID under a personal link, passcode
    ("zoom-web-sdk", "meeting_id", "n° de réunion", "zoom", {},
     f"{MY}\nN° de réunion : 806 378 7231\n", "8063787231@zoomcrc.com"),
    ("zoom-web-sdk", "meeting_id", "id de reunión", "zoom", {},
     f"{MY}\nID de reunión: 806 378 7231\n", "8063787231@zoomcrc.com"),
    ("zoom-web-sdk", "passcode", "código de acceso", "zoom", INCLUDE_PIN,
     f"{J}\nID de reunión: 862 4856 8208\nCódigo de acceso: 559597\n", "86248568208.559597@zoomcrc.com"),
    ("zoom-web-sdk", "meeting_id", "vergadering-id", "zoom", {},
     f"{MY}\nVergadering-ID: 806 378 7231\n", "8063787231@zoomcrc.com"),
    ("zoom-web-sdk", "passcode", "wachtwoord", "zoom", INCLUDE_PIN,
     f"{J}\nVergadering-ID: 862 4856 8208\nWachtwoord: 559597\n", "86248568208.559597@zoomcrc.com"),
    ("zoom-web-sdk", "passcode", "senha", "zoom", INCLUDE_PIN,
     f"{J}\nID da reunião: 862 4856 8208\nSenha: 559597\n", "86248568208.559597@zoomcrc.com"),
    ("zoom-web-sdk", "meeting_id", "mötes-id", "zoom", {},
     f"{MY}\nMötes-ID: 806 378 7231\n", "8063787231@zoomcrc.com"),
    ("zoom-web-sdk", "meeting_id", "identyfikator spotkania", "zoom", {},
     f"{MY}\nIdentyfikator spotkania: 806 378 7231\n", "8063787231@zoomcrc.com"),
    ("zoom-web-sdk", "passcode", "kod dostępu", "zoom", INCLUDE_PIN,
     f"{J}\nIdentyfikator spotkania: 862 4856 8208\nKod dostępu: 559597\n", "86248568208.559597@zoomcrc.com"),
    ("zoom-web-sdk", "passcode", "パスコード", "zoom", INCLUDE_PIN,
     f"{J}\nミーティング ID: 862 4856 8208\nパスコード: 559597\n", "86248568208.559597@zoomcrc.com"),
    ("zoom-web-sdk", "meeting_id", "会议号", "zoom", {},
     f"{MY}\n会议号: 806 378 7231\n", "8063787231@zoomcrc.com"),
    ("zoom-web-sdk", "passcode", "암호", "zoom", INCLUDE_PIN,
     f"{J}\n회의 ID: 862 4856 8208\n암호: 559597\n", "86248568208.559597@zoomcrc.com"),
    # Portuguese Zoom readers (third party): "Senha de acesso"
    ("zoom-pt-parser", "passcode", "senha de acesso", "zoom", INCLUDE_PIN,
     f"Anna Silva está convidando você para uma reunião Zoom agendada.\n{J}\nID da reunião: 862 4856 8208\nSenha de acesso: 559597\n",
     "86248568208.559597@zoomcrc.com"),
    # Dutch Teams lines as a reader of Dutch Teams invitations lists them (third party)
    ("teams-nl-parser", "meeting_id", "vergadering-id", "teamssipguestjoin", {},
     f"Microsoft Teams Heeft u hulp nodig?\nNu deelnemen aan de vergadering<{TEAMS}>\nVergadering-id: 351 772 904 188\nWachtwoordcode: Xa9bQ2\n",
     "351772904188.Xa9bQ2@teams.pexip.me"),
    ("teams-nl-parser", "passcode", "wachtwoordcode", "teamssipguestjoin", {},
     f"Microsoft Teams Heeft u hulp nodig?\nNu deelnemen aan de vergadering<{TEAMS}>\nVergadering-id: 351 772 904 188\nWachtwoordcode: Xa9bQ2\n",
     "351772904188.Xa9bQ2@teams.pexip.me"),
    # Portuguese Teams (third party reader: "Participe pelo computador", "ID da reunião:");
    # the reader lists no passcode line, so "Senha" (Zoom's Portuguese passcode) stands in
    ("teams-pt-parser", "meeting_id", "id da reunião", "teamssipguestjoin", {},
     f"Reunião do Microsoft Teams\nParticipe pelo computador\n<{TEAMS}>\nID da reunião: 351 772 904 188\nSenha: Xa9bQ2\n",
     "351772904188.Xa9bQ2@teams.pexip.me"),
    # Microsoft Graph's localised docs name the Teams passcode (joinMeetingIdSettings): zh "密码",
    # pt-BR "senha", beside the meeting ID ("会议 ID", "ID da reunião")
    ("ms-graph-passcode", "passcode", "密码", "teamssipguestjoin", {},
     f"Microsoft Teams 会议\n<{TEAMS}>\n会议 ID: 351 772 904 188\n密码: Xa9bQ2\n",
     "351772904188.Xa9bQ2@teams.pexip.me"),
    ("ms-graph-passcode", "passcode", "senha", "teamssipguestjoin", {},
     f"Reunião do Microsoft Teams\n<{TEAMS}>\nID da reunião: 351 772 904 188\nSenha: Xa9bQ2\n",
     "351772904188.Xa9bQ2@teams.pexip.me"),
    # The Teams video-device section as Cisco's localised docs name its lines (third party)
    ("cisco-cvi-docs", "conference_id", "video-id", "ciscoteamsbody", {},
     _cvi("An einem Videokonferenzgerät teilnehmen", "Mandantenschlüssel", "Video-ID"), CISCO),
    ("cisco-cvi-docs", "conference_id", "id video", "ciscoteamsbody", {},
     _cvi("Partecipa a un dispositivo di videoconferenza", "Chiave tenant", "ID video"), CISCO),
    ("cisco-cvi-docs", "conference_id", "id de vídeo", "ciscoteamsbody", {},
     _cvi("Entrar em um dispositivo de videoconferência", "Chave do locatário", "ID de vídeo"), CISCO),
    ("cisco-cvi-docs", "conference_id", "video-id", "ciscoteamsbody", {},
     _cvi("Bli med på en videokonferanseenhet", "Leiernøkkel", "Video-ID"), CISCO),
    # Finnish: Cisco names the key and the ID but not the section's heading, so it stays English
    ("cisco-cvi-docs", "conference_id", "videotunnus", "ciscoteamsbody", {},
     _cvi("Join on a video conferencing device", "Vuokralainen avain", "Videotunnus"), CISCO),
    ("cisco-cvi-docs", "conference_id", "identyfikator konferencji vtc", "ciscoteamsbody", {},
     _cvi("Dołącz za pomocą urządzenia do wideokonferencji", "", "Identyfikator konferencji VTC"), CISCO),
    # Spanish Webex join details copied from invitations (third party), as found
    ("webex-es", "meeting_number", "reunión número", "webex", {},
     "https://casevents.webex.com/casevents/j.php?MTID=m1049fba6017d76fac055024336916b69\nReunión número (código de acceso):\n620 607 781\nContraseña de reunión:\nUNMSM\n",
     "620607781@casevents.webex.com"),
    ("webex-es", "meeting_number", "número de la reunión", "webex", {},
     "https://acme.webex.com/acme/j.php?MTID=m1a2b3c\nNúmero de la reunión (código de acceso): 2551 234 5678\nContraseña de la reunión: Tmv36kRq\n",
     "25512345678@acme.webex.com"),
    # Cisco's Japanese guide: "ミーティング番号" (joining by meeting number)
    ("webex-ja-docs", "meeting_number", "ミーティング番号", "webex", {},
     "https://acme.webex.com/acme/j.php?MTID=m1a2b3c\nミーティング番号: 2551 234 5678\n",
     "25512345678@acme.webex.com"),
    # Cisco's Dutch and Portuguese WebEx help: "vergaderingnummer", "número da reunião"
    ("webex-nl-docs", "meeting_number", "vergaderingnummer", "webex", {},
     "https://acme.webex.com/acme/j.php?MTID=m1a2b3c\nVergaderingnummer: 2551 234 5678\n",
     "25512345678@acme.webex.com"),
    ("webex-pt-docs", "meeting_number", "número da reunião", "webex", {},
     "https://acme.webex.com/acme/j.php?MTID=m1a2b3c\nNúmero da reunião: 2551 234 5678\n",
     "25512345678@acme.webex.com"),
    # GoTo's localised docs name the meeting ID; GoTo's localised room section was not found,
    # so the label sits in the English template's shape (goto-en)
    ("goto-docs", "meeting_id", "meeting-id", "gotomeeting", {},
     "GoTo Meeting\nDial in or type: 67.217.95.2 or inroomlink.goto.com\nMeeting-ID: 803 635 885\n",
     "803635885@inroomlink.goto.com"),
    ("goto-docs", "meeting_id", "id de reunión", "gotomeeting", {},
     "GoTo Meeting\nDial in or type: 67.217.95.2 or inroomlink.goto.com\nID de reunión: 803 635 885\n",
     "803635885@inroomlink.goto.com"),
    ("goto-docs", "meeting_id", "id riunione", "gotomeeting", {},
     "GoTo Meeting\nDial in or type: 67.217.95.2 or inroomlink.goto.com\nID riunione: 803 635 885\n",
     "803635885@inroomlink.goto.com"),
    ("goto-docs", "meeting_id", "id de reunião", "gotomeeting", {},
     "GoTo Meeting\nDial in or type: 67.217.95.2 or inroomlink.goto.com\nID de reunião: 803 635 885\n",
     "803635885@inroomlink.goto.com"),
]  # fmt: skip

IDS = [f"{case[0]}-{case[2]}" for case in VENDOR]


@pytest.mark.parametrize(
    ("source", "kind", "label", "meeting_type", "settings", "body", "alias"), VENDOR, ids=IDS
)
def test_label_from_the_vendors_strings(
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
    ("label", "meeting_type", "settings", "body", "alias"),
    [case[2:] for case in VENDOR],
    ids=IDS,
)
def test_the_fragment_needs_its_label(
    label: str, meeting_type: str, settings: dict[str, bool], body: str, alias: str
) -> None:
    """Without the label's words the same fragment gives another alias or none."""
    index = body.lower().index(label)
    blanked = body[:index] + "Xyzzy" + body[index + len(label) :]
    meeting = process(rule(meeting_type, **settings), body=blanked)
    assert meeting.alias != alias, meeting.trace


#: Tenant-key labels: recorded (the finders read the key from its address), so a fragment does
#: not need them; each must name its source and leave the section readable.
TENANT_KEYS = [
    ("cisco-cvi-docs", "mandantenschlüssel", "An einem Videokonferenzgerät teilnehmen", "Mandantenschlüssel", "Video-ID"),
    ("cisco-cvi-docs", "tenantsleutel", "Samenvoegen op een apparaat voor videoconferencing", "Tenantsleutel", "Video-ID"),
    ("cisco-cvi-docs", "chiave tenant", "Partecipa a un dispositivo di videoconferenza", "Chiave tenant", "ID video"),
    ("cisco-cvi-docs", "chave do locatário", "Entrar em um dispositivo de videoconferência", "Chave do locatário", "ID de vídeo"),
    ("cisco-cvi-docs", "leiernøkkel", "Bli med på en videokonferanseenhet", "Leiernøkkel", "Video-ID"),
    ("cisco-cvi-docs", "klientnyckel", "Join on a video conferencing device", "Klientnyckel", "Video-ID"),
    ("cisco-cvi-docs", "vuokralainen avain", "Join on a video conferencing device", "Vuokralainen avain", "Videotunnus"),
    ("cisco-cvi-docs", "テナントキー", "ビデオ会議デバイスで参加", "テナントキー", "VTC 会議 ID"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("source", "label", "heading", "key_label", "id_label"),
    TENANT_KEYS,
    ids=[f"{case[0]}-{case[1]}" for case in TENANT_KEYS],
)
def test_tenant_key_label_is_recorded(
    source: str, label: str, heading: str, key_label: str, id_label: str
) -> None:
    backed = {entry.text for _, kind, entry in entries() if kind == "tenant_key"}
    assert label in backed
    assert any(
        entry.text == label and source in entry.sources
        for _, kind, entry in entries()
        if kind == "tenant_key"
    )
    meeting = process(rule("ciscoteamsbody"), body=_cvi(heading, key_label, id_label))
    assert meeting.alias == CISCO, meeting.trace
