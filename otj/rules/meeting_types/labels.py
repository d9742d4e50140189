"""The labels invitations write before a meeting's details, as data: one table per language.

Each table maps a kind of value to the labels that vendors' invitation templates put before it
(lower case, compared ignoring case; a label is followed by optional punctuation such as ``:``,
``：`` or ``#``, then the value); ``Labelled`` reads the values after a kind's labels in every
language. Each table's comments say what backs which label: "seen" is an invitation as the
vendor localised it, found in public data; "MS docs" is Microsoft's own localised documentation
using the term (not the invitation template itself); "third party" is another project's parser;
"no source" means nobody has checked the label against the vendor's wording (issue 12 §2 stays
open for those). ``find_string id`` numbers name public GitHub files in the search index whose
repository was not shown.

Kinds: ``meeting_id`` (Teams, Zoom and GoTo "Meeting ID"), ``passcode`` (Teams, Zoom),
``conference_id`` (Teams' video-device section: "Video ID" / "VTC Conference ID"),
``tenant_key`` (same section), ``meeting_number`` (Webex), ``access_code`` (Webex, GoTo).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

Table = Mapping[str, tuple[str, ...]]

# English, Teams video-device section: "Join with a video conferencing device", then
# "<tenant key>@t.plcm.vc VTC Conference ID: 017920684" (seen: an OpenBMC mailing-list archive,
# find_string id 30385947001) and "att@m.webex.com" / "Video Conference ID: 114 213 415 0"
# (seen: find_string id 9270501156). Teams writes no "tenant key" label: the key is the address's
# user part; the tenant_key labels of every table only serve other write-ups.
ENGLISH: Table = {
    "meeting_id": ("meeting id",),
    "passcode": ("passcode", "password"),
    "conference_id": ("video conference id", "vtc conference id", "video id", "conference id"),
    "tenant_key": ("tenant key",),
    "meeting_number": ("meeting number",),
    "access_code": ("access code",),
}
# German: seen "Besprechungs-ID: 371 519 285 955", "Passcode: pvHjhQ" (golden case). MS docs:
# Microsoft's de-DE Teams CVI articles (MicrosoftDocs/OfficeDocs-SkypeForBusiness.de-DE,
# find_string ids 43751391047, 44100206317) call the VTC conference ID "VTC-Konferenz-ID" and the
# tenant key "Mandantenschlüssel". No source: "Kenncode", "Video-ID", and the Zoom, Webex and
# GoTo labels.
GERMAN: Table = {
    "meeting_id": ("besprechungs-id", "meeting-id"),
    "passcode": ("kenncode", "passcode", "passwort"),
    "conference_id": ("video-id", "vtc-konferenz-id"),
    "tenant_key": ("mandantenschlüssel",),
    "meeting_number": ("meeting-kennnummer", "meetingnummer"),
    "access_code": ("zugriffscode",),
}
# French to Japanese below: the "seen" lines are the previous author's record. No source for their
# tenant_key labels, nor for their conference_id labels (except Danish "Video-id", seen), nor for
# the Webex and GoTo labels, nor for the Teams labels where the "seen" line is a Zoom invitation.
FRENCH: Table = {  # seen: "ID de la réunion : 319 560 123 45", "Code secret : CTYa9"
    "meeting_id": ("id de la réunion", "id de réunion"),
    "passcode": ("code secret", "mot de passe"),
    "conference_id": ("id vidéo", "id de conférence vtc"),
    "tenant_key": ("clé du locataire",),
    "meeting_number": ("numéro de réunion",),
    "access_code": ("code d'accès",),
}
SPANISH: Table = {  # seen: "Id. de reunión: 248 517 140 318", "Código de acceso: HvnwiV"
    "meeting_id": ("id. de reunión", "id de reunión", "id de la reunión"),
    "passcode": ("código de acceso", "contraseña"),
    "conference_id": ("id. de vídeo", "id. de conferencia vtc"),
    "tenant_key": ("clave de inquilino",),
    "meeting_number": ("número de reunión",),
    "access_code": ("código de acceso",),
}
ITALIAN: Table = {  # seen (Zoom): "ID riunione: 834 4346 0156", "Passcode: 083375"
    "meeting_id": ("id riunione", "id della riunione"),
    "passcode": ("passcode", "password"),
    "conference_id": ("id video", "id conferenza vtc"),
    "tenant_key": ("chiave tenant",),
    "meeting_number": ("numero riunione",),
    "access_code": ("codice di accesso",),
}
# Dutch: "Vergaderings-id" only as the previous author recorded it (no invitation re-found);
# no source for any other Dutch label.
DUTCH: Table = {
    "meeting_id": ("vergaderings-id", "vergader-id"),
    "passcode": ("wachtwoordcode", "wachtwoord", "toegangscode"),
    "conference_id": ("video-id", "vtc-conferentie-id"),
    "tenant_key": ("tenantsleutel",),
    "meeting_number": ("vergadernummer",),
    "access_code": ("toegangscode",),
}
PORTUGUESE: Table = {  # seen (Zoom): "ID da reunião: 830 6726 7308 / Senha: 704878"
    "meeting_id": ("id da reunião", "id de reunião"),
    "passcode": ("senha de acesso", "código de acesso", "senha"),
    "conference_id": ("id de vídeo", "id da conferência vtc"),
    "tenant_key": ("chave do locatário",),
    "meeting_number": ("número da reunião",),
    "access_code": ("código de acesso",),
}
NORWEGIAN: Table = {  # seen: "Møte-ID: 111 111 111 111", "Passord: 5bygmt"
    "meeting_id": ("møte-id",),
    "passcode": ("passord", "passkode"),
    "conference_id": ("video-id", "vtc-konferanse-id"),
    "tenant_key": ("leietakernøkkel",),
    "meeting_number": ("møtenummer",),
    "access_code": ("tilgangskode",),
}
SWEDISH: Table = {  # seen: "Mötes-ID:", "Lösenord:"
    "meeting_id": ("mötes-id",),
    "passcode": ("lösenord", "lösenkod"),
    "conference_id": ("video-id", "vtc-konferens-id"),
    "tenant_key": ("klientnyckel",),
    "meeting_number": ("mötesnummer",),
    "access_code": ("åtkomstkod",),
}
DANISH: Table = {  # seen: "Møde-id: 320 012 355 657", "Adgangskode: L5upfx", "Video-id: …"
    "meeting_id": ("møde-id",),
    "passcode": ("adgangskode",),
    "conference_id": ("video-id", "vtc-konference-id"),
    "tenant_key": ("lejernøgle",),
    "meeting_number": ("mødenummer",),
    "access_code": ("adgangskode",),
}
# Finnish: third party only: a mail tool's Teams-invitation hint regex lists "kokouksen tunnus"
# beside "meeting id" and "liity kokoukseen" (find_string id 66548218493). No source for
# "tunnuskoodi" (Teams passcode), the video-device section, or Zoom, Webex and GoTo in Finnish.
FINNISH: Table = {
    "meeting_id": ("kokouksen tunnus", "kokoustunnus"),
    "passcode": ("tunnuskoodi", "salasana"),
    "conference_id": ("videotunnus", "vtc-neuvottelun tunnus"),
    "tenant_key": ("vuokraajan avain",),
    "meeting_number": ("kokouksen numero",),
    "access_code": ("käyttökoodi",),
}
POLISH: Table = {  # seen: "Identyfikator spotkania: 312 967 000 844 149", "Kod dostępu: aB1cD2"
    "meeting_id": ("identyfikator spotkania", "identyfikator spotkania (id)"),
    "passcode": ("kod dostępu", "hasło"),
    "conference_id": ("identyfikator wideo", "identyfikator konferencji vtc"),
    "tenant_key": ("klucz dzierżawy",),
    "meeting_number": ("numer spotkania",),
    "access_code": ("kod dostępu",),
}
JAPANESE: Table = {  # seen: "会議 ID: 418 208 460 406", "パスコード: SzCpeg"
    "meeting_id": ("会議 id", "会議id", "ミーティング id", "ミーティングid"),
    "passcode": ("パスコード", "パスワード"),
    "conference_id": ("ビデオ id", "ビデオid", "vtc 会議 id"),
    "tenant_key": ("テナント キー", "テナントキー"),
    "meeting_number": ("ミーティング番号", "会議番号"),
    "access_code": ("アクセス コード", "アクセスコード"),
}
# Chinese (simplified). Seen: Zoom "加入 Zoom 会议" / "会议号: 817 3894 3299" / "密码: 378822"
# (find_string id 30241566635); Webex "会议号（访问码）： 182 325 056" / "会议密码： 1234" with a
# j.php?MTID= link (find_string ids 11268368649, 15501237038; full-width brackets and colon).
# MS docs: Microsoft Graph zh-CN onlineMeeting pages write "VTC 会议 ID" and call joinMeetingId
# the "会议 ID" (find_string id 3489831657); Microsoft zh-CN docs write "租户密钥" for a tenant key
# (Azure Information Protection, find_string id 7884967463). No source: Teams' "密码" passcode
# label, "视频 ID", GoTo in Chinese.
CHINESE: Table = {
    "meeting_id": ("会议 id", "会议id", "会议号"),
    "passcode": ("密码", "会议密码"),
    "conference_id": ("视频 id", "视频id", "vtc 会议 id"),
    "tenant_key": ("租户密钥",),
    "meeting_number": ("会议号",),
    "access_code": ("访问码",),
}
# Korean. Seen: Zoom "Zoom 회의 참가" / "회의 ID: 970 7991 7004" / "암호: 10871" (several pasted
# invitations, find_string ids 13088578285, 1582747535, 25234494277, 36754850973). MS docs:
# Microsoft's ko-KR Teams articles call the meeting ID "모임 ID"
# (MicrosoftDocs/OfficeDocs-SkypeForBusiness-pr.ko-KR, Teams audio conferencing pages,
# "모임 ID를 입력하여", find_string id 40002503855) and
# Microsoft ko-KR docs write "테넌트 키" for a tenant key (find_string id 29151770440). No source:
# Teams' passcode label, the video-device section's ID, Webex and GoTo in Korean.
KOREAN: Table = {
    "meeting_id": ("회의 id", "모임 id", "회의id"),
    "passcode": ("암호", "passcode", "비밀번호"),
    "conference_id": ("비디오 id", "vtc 회의 id"),
    "tenant_key": ("테넌트 키",),
    "meeting_number": ("회의 번호",),
    "access_code": ("액세스 코드",),
}

LANGUAGES: Mapping[str, Table] = {
    "en": ENGLISH, "de": GERMAN, "fr": FRENCH, "es": SPANISH, "it": ITALIAN, "nl": DUTCH,
    "pt": PORTUGUESE, "nb": NORWEGIAN, "sv": SWEDISH, "da": DANISH, "fi": FINNISH, "pl": POLISH,
    "ja": JAPANESE, "zh": CHINESE, "ko": KOREAN,
}  # fmt: skip
"""Labels per language code (ISO 639-1) and kind."""


def labels(*kinds: str) -> tuple[str, ...]:
    """Every language's labels of ``kinds``, longest first (so that a longer label wins)."""
    found = {label for table in LANGUAGES.values() for kind in kinds for label in table[kind]}
    return tuple(sorted(found, key=len, reverse=True))


_AFTER_LABEL = (
    r"(?:\s*[(（][^)）\n]{0,30}[)）])?[ \t\u00a0\u3000]*[:：#]?[ \t\u00a0\u3000]*"
    r"(?:\n[ \t\u00a0\u3000]*)?"
)
"""Between a label and its value: an optional "(access code)" (ASCII or full-width brackets, as
Webex's Chinese "会议号（访问码）：" writes it), a colon, one line break."""


class Labelled:
    """The values that follow the labels of a kind: ``Labelled("passcode", r"(\\S+)")``.

    Each label is looked up as written (ignoring case) and the value read right after it:
    ``<label> [(…)] [:：#] <value>``, the value being a regular expression with one group.
    """

    def __init__(self, kind: str, value: str) -> None:
        self.labels = labels(*kind.split("|"))
        self._after = re.compile(_AFTER_LABEL + value)

    def values(self, text: str, start: int = 0, end: int | None = None) -> list[tuple[str, int]]:
        """Every ``(value, end of its match)`` in ``text[start:end]``, in text order."""
        segment = text[start:end]
        lower = segment.lower()
        if len(lower) != len(segment):  # case folding changed lengths: read the text as it is
            lower = segment
        found: dict[int, tuple[str, int]] = {}
        for label in self.labels:  # longest first: a longer label at the same place wins
            index = lower.find(label)
            while index >= 0:
                match = self._after.match(segment, index + len(label))
                if match is not None and index not in found:
                    found[index] = (match.group(1), start + match.end())
                index = lower.find(label, index + 1)
        return [found[index] for index in sorted(found)]

    def first(self, text: str, start: int = 0, end: int | None = None) -> tuple[str, int] | None:
        """The first ``(value, end of its match)`` in ``text[start:end]``, or None."""
        values = self.values(text, start, end)
        return values[0] if values else None
