"""The labels invitations write before a meeting's details, as data: one table per language.

Each table maps a kind of value to the labels that vendors' invitation templates put before it
(lower case, compared ignoring case; a label is followed by optional punctuation such as ``:``,
``：`` or ``#``, then the value), each with the keys of ``label_sources.SOURCES`` that back it:
an invitation seen as the vendor wrote it, the vendor's own string resources (its invitation
template or client labels), the vendor's localised documentation, another project's parser, or
``UNSOURCED`` (kept as a plausible translation; issue 12 §2 stays open for
those). A label serves every provider whose type reads that kind, whichever vendor backs it.
``Labelled`` reads the values after a kind's labels in every language.

Kinds: ``meeting_id`` (Teams, Zoom and GoTo "Meeting ID"), ``passcode`` (Teams, Zoom),
``conference_id`` (Teams' video-device section: "Video ID" / "VTC Conference ID"),
``tenant_key`` (same section, newer template: "Tenant key: teams@meet.example.com"; the
finders read the key from that address, so these labels are recorded, not needed to match),
``meeting_number`` (Webex), ``access_code`` (Webex, GoTo).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from otj.rules.meeting_types.label_sources import UNSOURCED


@dataclass(frozen=True)
class Label:
    """One label as written (lower case) and the ``SOURCES`` keys that back it."""

    text: str
    sources: tuple[str, ...]


def _l(text: str, *sources: str) -> Label:
    return Label(text, sources or (UNSOURCED,))


Table = Mapping[str, tuple[Label, ...]]

ZI, ZW = "zoom-ios-sdk", "zoom-web-sdk"  # Zoom's own string resources (label_sources)

ENGLISH: Table = {
    "meeting_id": (_l("meeting id", "teams-en", "zoom-en", ZI, ZW),),
    "passcode": (_l("passcode", "teams-en", "zoom-en", ZI, ZW), _l("password", "webex-en", ZI)),
    "conference_id": (
        _l("video conference id", "teams-en"),
        _l("vtc conference id", "teams-en-poly"),
        _l("video id", "teams-en"),
    ),
    "tenant_key": (_l("tenant key", "teams-en"),),
    "meeting_number": (_l("meeting number", "webex-en"),),
    "access_code": (_l("access code", "webex-en", "goto-en"),),
}
GERMAN: Table = {
    "meeting_id": (
        _l("besprechungs-id", "teams-de"),
        _l("besprchungs-id", "teams-de-typo"),
        _l("meeting-id", "zoom-de", ZI, ZW, "goto-docs"),
    ),
    "passcode": (
        _l("kenncode", "zoom-de", ZI, ZW),
        _l("passcode", "teams-de"),
        _l("passwort", "webex-de", ZI),
    ),
    "conference_id": (_l("video-id", "cisco-cvi-docs"), _l("vtc-konferenz-id", "ms-de")),
    "tenant_key": (_l("mandantenschlüssel", "ms-de", "cisco-cvi-docs"),),
    "meeting_number": (_l("meeting-kennnummer", "webex-de"), _l("meetingnummer")),
    "access_code": (_l("zugriffscode", "webex-de"),),
}
FRENCH: Table = {
    "meeting_id": (
        _l("id de la réunion", "teams-fr", "zoom-fr"),
        _l("id de réunion", ZW),
        _l("nº de réunion", ZI),
        _l("n° de réunion", ZW),
    ),
    "passcode": (_l("code secret", "teams-fr", "zoom-fr", ZI, ZW), _l("mot de passe", ZI)),
    "conference_id": (_l("id vidéo"), _l("id de conférence vtc", "ms-fr")),
    "tenant_key": (_l("clé du locataire"),),
    "meeting_number": (_l("numéro de réunion"),),
    "access_code": (_l("code d'accès"),),
}
SPANISH: Table = {
    "meeting_id": (
        _l("id. de reunión", "teams-es"),
        _l("id de reunión", ZW, "goto-docs"),
        _l("id de la reunión", "teams-es", ZI, "goto-docs"),
    ),
    "passcode": (_l("código de acceso", "teams-es", ZI, ZW), _l("contraseña", ZI)),
    "conference_id": (
        _l("id. de vídeo"),
        _l("id. de conferencia vtc"),
        _l("identificador de conferencia vtc", "ms-es"),
    ),
    "tenant_key": (_l("clave de inquilino"),),
    "meeting_number": (
        _l("número de reunión"),
        _l("número de la reunión", "webex-es"),
        _l("reunión número", "webex-es"),
    ),
    "access_code": (_l("código de acceso"),),
}
ITALIAN: Table = {
    "meeting_id": (
        _l("id riunione", "teams-it", "zoom-it", ZI, ZW, "goto-docs"),
        _l("id della riunione"),
    ),
    "passcode": (
        _l("passcode", "teams-it", ZI, ZW),
        _l("codice d'accesso", "zoom-it"),
        _l("password", ZI),
    ),
    "conference_id": (_l("id video", "cisco-cvi-docs"), _l("id conferenza vtc", "ms-it")),
    "tenant_key": (_l("chiave tenant", "cisco-cvi-docs"),),
    "meeting_number": (_l("numero riunione"),),
    "access_code": (_l("codice di accesso"),),
}
DUTCH: Table = {
    "meeting_id": (
        _l("vergaderings-id", "teams-nl"),
        _l("vergadering-id", "teams-nl-parser", ZW),
        _l("vergader-id"),
    ),
    "passcode": (
        _l("wachtwoordcode", "teams-nl-parser"),
        _l("wachtwoord", ZW),
        _l("toegangscode"),
    ),
    "conference_id": (_l("video-id", "cisco-cvi-docs"), _l("vtc-conferentie-id")),
    "tenant_key": (_l("tenantsleutel", "ms-nl", "cisco-cvi-docs"),),
    "meeting_number": (_l("vergaderingnummer", "webex-nl-docs"), _l("vergadernummer")),
    "access_code": (_l("toegangscode"),),
}
PORTUGUESE: Table = {
    "meeting_id": (
        _l("id da reunião", "zoom-pt", "zoom-pt-parser", "teams-pt-parser", ZI, ZW),
        _l("id de reunião", "goto-docs"),
    ),
    "passcode": (
        _l("senha de acesso", "zoom-pt-parser"),
        _l("código de acesso"),
        _l("senha", "zoom-pt", ZI, ZW, "ms-graph-passcode"),
    ),
    "conference_id": (_l("id de vídeo", "cisco-cvi-docs"), _l("id da conferência vtc", "ms-pt")),
    "tenant_key": (_l("chave do locatário", "cisco-cvi-docs"),),
    "meeting_number": (_l("número da reunião", "webex-pt-docs"),),
    "access_code": (_l("código de acesso"),),
}
NORWEGIAN: Table = {
    "meeting_id": (_l("møte-id", "teams-nb"),),
    "passcode": (_l("passord", "teams-nb"), _l("passkode")),
    "conference_id": (_l("video-id", "cisco-cvi-docs"), _l("vtc-konferanse-id")),
    "tenant_key": (_l("leiernøkkel", "cisco-cvi-docs"), _l("leietakernøkkel")),
    "meeting_number": (_l("møtenummer"),),
    "access_code": (_l("tilgangskode"),),
}
SWEDISH: Table = {
    "meeting_id": (_l("mötes-id", "teams-sv", ZW),),
    "passcode": (_l("lösenord", "teams-sv"), _l("lösenkod", "zoom-sv", ZW)),
    "conference_id": (_l("video-id", "cisco-cvi-docs"), _l("vtc-konferens-id")),
    "tenant_key": (_l("klientnyckel", "cisco-cvi-docs"),),
    "meeting_number": (_l("mötesnummer"),),
    "access_code": (_l("åtkomstkod"),),
}
DANISH: Table = {
    "meeting_id": (_l("møde-id", "teams-da"),),
    "passcode": (_l("adgangskode", "teams-da"),),
    "conference_id": (_l("video-id", "teams-da"), _l("vtc-konference-id")),
    "tenant_key": (_l("lejernøgle", "teams-da"),),
    "meeting_number": (_l("mødenummer"),),
    "access_code": (_l("adgangskode"),),
}
FINNISH: Table = {
    "meeting_id": (_l("kokouksen tunnus", "teams-fi"), _l("kokoustunnus")),
    "passcode": (_l("tunnuskoodi"), _l("salasana")),
    "conference_id": (_l("videotunnus", "cisco-cvi-docs"), _l("vtc-neuvottelun tunnus")),
    "tenant_key": (_l("vuokralainen avain", "cisco-cvi-docs"), _l("vuokraajan avain", "ms-fi")),
    "meeting_number": (_l("kokouksen numero"),),
    "access_code": (_l("käyttökoodi"),),
}
POLISH: Table = {
    "meeting_id": (_l("identyfikator spotkania", "teams-pl", ZW),),
    "passcode": (_l("kod dostępu", "teams-pl", ZW), _l("hasło")),
    "conference_id": (
        _l("identyfikator wideo"),
        _l("identyfikator konferencji vtc", "cisco-cvi-docs"),
    ),
    "tenant_key": (_l("klucz dzierżawy"),),
    "meeting_number": (_l("numer spotkania"),),
    "access_code": (_l("kod dostępu"),),
}
JAPANESE: Table = {
    "meeting_id": (
        _l("会議 id", "teams-ja", "teams-ja-tests"),
        _l("会議id"),
        _l("ミーティング id", ZI, ZW),
        _l("ミーティングid"),
    ),
    "passcode": (_l("パスコード", "teams-ja-tests", ZI, ZW), _l("パスワード", ZI)),
    "conference_id": (_l("ビデオ id"), _l("ビデオid"), _l("vtc 会議 id", "teams-ja-graph")),
    "tenant_key": (_l("テナント キー"), _l("テナントキー", "cisco-cvi-docs")),
    "meeting_number": (_l("ミーティング番号", "webex-ja-docs"), _l("会議番号")),
    "access_code": (_l("アクセス コード"), _l("アクセスコード")),
}
CHINESE: Table = {  # simplified
    "meeting_id": (_l("会议 id", "ms-zh"), _l("会议id", ZI), _l("会议号", "zoom-zh", ZW)),
    "passcode": (_l("密码", "zoom-zh", ZI, ZW, "ms-graph-passcode"), _l("会议密码", "webex-zh")),
    "conference_id": (_l("视频 id"), _l("视频id"), _l("vtc 会议 id", "ms-zh")),
    "tenant_key": (_l("租户密钥", "ms-zh"),),
    "meeting_number": (_l("会议号", "webex-zh"),),
    "access_code": (_l("访问码", "webex-zh"),),
}
KOREAN: Table = {
    "meeting_id": (_l("회의 id", "zoom-ko", ZI, ZW), _l("모임 id", "ms-ko"), _l("회의id")),
    "passcode": (_l("암호", "zoom-ko", ZI, ZW), _l("비밀번호", ZI)),
    "conference_id": (_l("비디오 id"), _l("vtc 회의 id")),
    "tenant_key": (_l("테넌트 키", "ms-ko"),),
    "meeting_number": (_l("회의 번호"),),
    "access_code": (_l("액세스 코드"),),
}

LANGUAGES: Mapping[str, Table] = {
    "en": ENGLISH, "de": GERMAN, "fr": FRENCH, "es": SPANISH, "it": ITALIAN, "nl": DUTCH,
    "pt": PORTUGUESE, "nb": NORWEGIAN, "sv": SWEDISH, "da": DANISH, "fi": FINNISH, "pl": POLISH,
    "ja": JAPANESE, "zh": CHINESE, "ko": KOREAN,
}  # fmt: skip
"""Labels per language code (ISO 639-1) and kind."""


def entries() -> Iterator[tuple[str, str, Label]]:
    """Every ``(language, kind, label)`` of the tables, in table order."""
    for language, table in LANGUAGES.items():
        for kind, found in table.items():
            for label in found:
                yield language, kind, label


def labels(*kinds: str) -> tuple[str, ...]:
    """Every language's labels of ``kinds``, longest first (so that a longer label wins)."""
    found = {label.text for _, kind, label in entries() if kind in kinds}
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
