"""Where each label of ``labels`` comes from: source key → what backs it (issue 12 §2).

Each text starts with how strong the evidence is:

- "seen": an invitation as the vendor wrote it (or its own API returned it), found in public
  data; the text quotes the lines that carry the label;
- "vendor strings": the vendor's own localised string resources, published by the vendor in a
  public repository: its invitation template, or the labels its client shows for the same values;
- "vendor docs": the vendor's own localised documentation uses the term (not the invitation);
- "third party": another project's parser or test data reads the label from such invitations;
- ``UNSOURCED``: nobody has checked the label against the vendor's wording; it stays because
  it is a plausible translation and harmless, and issue 12 §2 stays open for it.

"search-index id N" names a public GitHub file in the project's search index whose repository
the index did not show; the quoted lines let anyone find it again. GitHub sources name the
repository, path and commit.
"""

from __future__ import annotations

from collections.abc import Mapping

UNSOURCED = "unsourced"

SOURCES: Mapping[str, str] = {
    UNSOURCED: "unsourced: no vendor invitation, vendor document or parser found for this label",
    # Microsoft Teams: invitations
    "teams-en": "seen: English Teams invitations in a public CRM seed file (search-index id "
    "57482969659): 'Meeting ID: 393 410 478 838' / 'Passcode: dT6Sf7'; older video-device "
    "section 'Join with a video conferencing device' / 'mfa.teams@video.valtori.fi' / "
    "'Video Conference ID: 126 085 103 8'; newer one 'Join on a video conferencing device' / "
    "'Tenant key: teams@meet.um.dk' / 'Video ID: 124 244 419 4' and 'Tenant key: "
    "unhcr2@m.webex.com' / 'Video ID: 126 377 822 5'",
    "teams-en-poly": "seen: OpenBMC mailing-list archive (search-index id 30385947001): "
    "'<key>@t.plcm.vc VTC Conference ID: 017920684'",
    "teams-da": "seen: Danish Teams invitation in the same CRM seed file (id 57482969659): "
    "'Møde-id: 320 012 355 657' / 'Adgangskode: L5upfx' / 'Tilmeld dig på en enhed til "
    "videomøder' / 'Lejernøgle: teams@meet.um.dk' / 'Video-id: 125 181 807 2'",
    "teams-fr": "seen: French (Canada) Teams invitation in the same CRM seed file (id "
    "57482969659): 'Réunion Microsoft Teams' / 'ID de la réunion : 283 261 103 132' / "
    "'Code secret : bsLMWx'",
    "teams-de": "seen: German Teams invitation as Microsoft Graph returned it (bodyPreview, "
    "search-index id 3202869519): 'Microsoft Teams-Besprechung' / 'Besprechungs-ID: 371 519 285 "
    "955'; with 'Passcode: AAAA1111' in a project's test (id 60276940134)",
    "teams-de-typo": "seen: German Teams invitations wrote 'Besprchungs-ID' for the meeting ID in "
    "mid-2022 (a screenshot in MicrosoftDocs/office-docs-powershell issue #9696, "
    "https://github.com/MicrosoftDocs/office-docs-powershell/issues/9696: 'Besprchungs-ID needs "
    "to be Besprechungs-ID'; a commenter reports the Microsoft 365 Service Health advisory); "
    "meetings created then keep that body",
    "teams-es": "seen: Spanish Teams invitations (search-index ids 60571455663, 28773083689): "
    "'Reunión de Microsoft Teams' / 'Id. de reunión: 212 271 718 708 27' / 'Código de acceso: "
    "hD9qe2aE'; joinInformation fetched from Microsoft Graph in Spanish, kept as test data by "
    "a project (id 9670275533): 'ID de la reunión: 262 269 681 245'",
    "teams-it": "seen: Italian Teams invitations on public web pages (search-index ids "
    "42537682288, 42544584287): 'Fai clic qui per partecipare alla riunione' / 'ID riunione: "
    "358 365 590 221' / 'Passcode: RyA6GF'",
    "teams-ja": "seen: Japanese Teams joinInformation fetched from Microsoft Graph (test data, "
    "search-index id 9670275533): 'Microsoft Teams ミーティング' / '会議 ID: 295 059 665 934'",
    "teams-ja-tests": "third party: Japanese Teams invitations in projects' tests (search-index "
    "ids 42532453821, 68837309364): '会議 ID: 938 444 446 212 6' / 'パスコード: qc3zR3'",
    "teams-ja-graph": "seen: Microsoft Graph 'Get onlineMeeting' (beta), example 1, the "
    "joinInformation Teams returns for 'Accept-Language: ja' "
    "(https://learn.microsoft.com/graph/api/onlinemeeting-get?view=graph-rest-beta, "
    "microsoftgraph/microsoft-graph-docs-contrib api-reference/beta/api/onlinemeeting-get.md): "
    "'ビデオ会議デバイスで参加' / '000000000@t.abcd.vc VTC 会議 ID: 0180300000' (that older "
    "template also writes '会議 ID:' before the phone conference ID '111 000 00#')",
    "teams-nb": "third party: an anonymised Norwegian Teams invitation in a project's test data "
    "(search-index id 33862074139): 'Møte-ID: 111 111 111 111' / 'Passord: 5bygmt' / 'Finn ut "
    "mer | Møtealternativer'",
    "teams-sv": "third party: Swedish parsers of Teams event bodies read 'Mötes-ID:' and "
    "'Lösenord:' (search-index ids 16074799813, 15973389924) and list 'anslut till:', "
    "'mötes-id:', 'lösenord:', 'ring in via telefon' as Teams markers (id 55045032258)",
    "teams-pl": "third party: Polish Teams invitations in projects' test data (search-index ids "
    "55325763202, 54830882522): 'Spotkanie w Microsoft Teams' / 'Identyfikator spotkania: 393 "
    "216 444 363 987' / 'Kod dostępu: KY3kJ9PY'",
    "teams-nl": "third party: a Dutch mail tool cuts Teams blocks at 'Vergaderings-id:' "
    "(search-index id 56943555491)",
    "teams-nl-parser": "third party: a Dutch agenda formatter's list of Teams invitation lines "
    "(search-index id 52914124965): 'Heeft u hulp nodig', 'Nu deelnemen aan de vergadering', "
    "'Vergadering-id:', 'Wachtwoordcode:', 'Telefonische vergadering-id', 'Vergaderopties'",
    "teams-pt-parser": "third party: a mail cleaner's Teams patterns (search-index id "
    "28444358858): 'Participe pelo computador', 'ID da reunião:', 'Saiba mais'",
    "cisco-cvi-docs": "third party: Cisco's localised help article on its Teams video "
    "integration describes the Teams invitation's video-device section (help.webex.com "
    "article nffx8kj): de 'im Abschnitt An einem Videokonferenzgerät teilnehmen die "
    'SIP-Videoadresse als "Mandantenschlüssel" … die "Video-ID"\' '
    "(https://help.webex.com/de-de/article/nffx8kj/Deploy-the-Cisco-Webex-Video-Integration-for"
    "-Microsoft-Teams); nl '\"Tenantsleutel\" … de 'video-ID'' "
    '(https://help.webex.com/nl-nl/article/nffx8kj); it \'"Chiave tenant" nella sezione '
    "Partecipa a un dispositivo di videoconferenza … l'\"ID video\"' "
    "(https://help.webex.com/it-it/article/nffx8kj/Deploy-the-Cisco-Webex-Video-Integration-for"
    '-Microsoft-Teams); pt-BR \'"Chave do locatário" na seção Entrar em um dispositivo de '
    'videoconferência … a "ID de vídeo"\' (https://help.webex.com/pt-br/article/nffx8kj); '
    'nb \'"Leiernøkkel" under delen Bli med på en videokonferanseenhet … "Video-ID"\' '
    "(https://help.webex.com/no-no/article/nffx8kj); sv 'Klientnyckeln … \"Video-ID\"' "
    "(https://help.webex.com/sv-se/article/nffx8kj); fi 'SIP-video-osoitteeseen \"Vuokralainen "
    "avain\" … antamaan videotunnus' (https://help.webex.com/fi-fi/article/nffx8kj); "
    "ja 'SIP ビデオアドレス「テナントキー」' "
    "(https://help.webex.com/ja-jp/article/nffx8kj/Bereitstellen-der-Webex-Videointegration-f"
    "%C3%BCr-Microsoft-Teams); the older pl version 'Dołącz za pomocą urządzenia do "
    "wideokonferencji … identyfikator konferencji VTC' "
    "(https://help.webex.com/pl-pl/article/nffx8kj/Deploy-the-Cisco-Webex-Video-Integration-for"
    "-Microsoft-Teams). Cisco's translations of Microsoft's labels, not Microsoft's template",
    "teams-fi": "third party: a mail tool's Teams hint regex lists 'kokouksen tunnus' beside "
    "'meeting id' and 'liity kokoukseen' (search-index id 66548218493)",
    # Microsoft: localised documentation (not the invitation template)
    "ms-de": "vendor docs: Microsoft's de-DE Teams Cloud Video Interop pages "
    "(MicrosoftDocs/OfficeDocs-SkypeForBusiness.de-DE, search-index ids 43751391047, "
    "44100206317): 'VTC-Konferenz-ID', 'Mandantenschlüssel'",
    "ms-fr": "vendor docs: Microsoft's fr-FR Teams/cloud-video-interop.md "
    "(MicrosoftDocs/OfficeDocs-SkypeForBusiness-pr.fr-FR, search-index ids 17067852778, "
    "17129676288): 'l’ID de conférence VTC'",
    "ms-it": "vendor docs: Microsoft's it-IT Teams/cloud-video-interop.md "
    "(MicrosoftDocs/OfficeDocs-SkypeForBusiness-pr.it-IT, search-index ids 41608705479, "
    "41840815049): 'l'ID conferenza VTC'",
    "ms-pt": "vendor docs: Microsoft's pt-BR pages (Graph 'Get onlineMeeting', "
    "microsoftgraph/microsoft-graph-docs.pt-BR, search-index ids 8348467030, 39879504469; "
    "Teams CVI, id 40162397611): 'ID da conferência VTC'",
    "ms-es": "vendor docs: Microsoft Graph es-ES 'Get onlineMeeting' (search-index id "
    "24280603681): 'identificador de conferencia VTC'",
    "ms-zh": "vendor docs: Microsoft Graph zh-CN 'Get onlineMeeting' "
    "(microsoftgraph/microsoft-graph-docs.zh-CN, search-index id 3489831657) writes 'VTC 会议 "
    "ID' and calls joinMeetingId the '会议 ID'; Microsoft zh-CN docs write '租户密钥' for a "
    "tenant key (search-index id 7884967463)",
    "ms-graph-passcode": "vendor docs: Microsoft Graph's localised joinMeetingIdSettings resource "
    "(api-reference/beta/resources/joinmeetingidsettings.md, the Teams meeting ID and passcode "
    "of an online meeting), machine-translated: zh-CN (microsoftgraph/microsoft-graph-docs.zh-CN, "
    "commit 19b9478a57075508c9230fd20db4c7ac8e4d3171) 'joinMeetingId … 用于加入会议的会议 ID' / "
    "'密码 … 要加入会议的密码'; pt-BR (microsoftgraph/microsoft-graph-docs.pt-BR, commit "
    "47dee51dbfe91c5ce857cc620bfa1c9a8b39df1f) 'A ID da reunião a ser usada para ingressar' / "
    "'senha … A senha para ingressar em uma reunião'",
    "ms-ko": "vendor docs: Microsoft's ko-KR Teams audio-conferencing pages "
    "(MicrosoftDocs/OfficeDocs-SkypeForBusiness-pr.ko-KR, search-index id 40002503855): "
    "'모임 ID를 입력하여'; Microsoft ko-KR docs write '테넌트 키' (id 29151770440)",
    "ms-nl": "vendor docs: Microsoft's nl-NL Azure Information Protection pages write "
    "'tenantsleutel' for the tenant key (search-index ids 1472978117, 9885973149); not Teams",
    "ms-fi": "vendor docs: Microsoft's fi-FI Azure Key Vault BYOK page, machine-translated, "
    "writes 'vuokraajan avainta' for the tenant key (search-index id 35925847046); not Teams",
    # Zoom
    "zoom-en": "seen: the invitation text Zoom's API returns, kept in a Moodle plugin's test "
    "(search-index id 35116246): 'Join Zoom Meeting' / 'Meeting ID: 123 1234 1234' / "
    "'Passcode: 123123'",
    "zoom-de": "seen: German Zoom invitations (search-index ids 25144248502, 2527111335): "
    "'Zoom-Meeting beitreten' / 'Meeting-ID: 930 4115 2208' / 'Kenncode: 795548'",
    "zoom-fr": "seen: French Zoom invitation on a public page (search-index id 18541642754): "
    "'ID de la réunion : 835 7630 2110' / 'Code secret : 040383' (us02web.zoom.us link)",
    "zoom-it": "seen: Italian Zoom webinar invitation (search-index id 10289660683): "
    "'ID riunione: 862 4856 8208' / 'Codice d'accesso: 559597' (us06web.zoom.us link)",
    # Zoom: its own string resources (strongest after invitations seen)
    "zoom-ios-sdk": "vendor strings: Zoom's invitation e-mail template in its iOS SDK "
    "(zoom/zoom-sdk-ios, lib/MobileRTCResources.bundle/<lang>.lproj/Localizable.strings, "
    "commit eb77ff4f87324b7cc7755b2ffe348d5f85fcb84a), IDS_INVITATION_EMAIL_BODY_323_1 "
    "('Join from a H.323/SIP room system: IP Address: %@ Meeting ID: %qu') and 'Password: %@': "
    "de 'Meeting-ID:' / 'Passwort:', fr 'Nº de réunion :' / 'Mot de passe :', es 'ID de la "
    "reunión:' / 'Contraseña:', pt-PT 'ID da reunião:' / 'Senha:', it 'ID riunione:', "
    "ja 'ミーティング ID:' / 'パスワード:', zh-Hans '会议ID:' / '密码:', "
    "ko '회의 ID:' / '비밀번호:'; the "
    "2020 resources (commit a2e2e3248e64671f7ec5eb65333e7d4eb0b5a09d) keep those meeting-ID "
    "labels and write 'Passcode' as de 'Kenncode', fr 'Code secret', es 'Código de acceso', "
    "it 'Passcode', pt-PT 'Senha', ja 'パスコード', zh-Hans '密码', ko '암호' ('Password' as it "
    "'Password', ko '비밀번호')",
    "zoom-web-sdk": "vendor strings: the labels Zoom's Meeting SDK for Web shows "
    "(zoom/meetingsdk-web, dist/lib/lang/<lang>.json, commit "
    "ce0bc3f2a14a52e275f0c4dbad548e285952f1d0, keys apac.wc_meetingid / apac.wc_tel_password): "
    "de 'Meeting-ID' / 'Kenncode', fr 'ID de réunion' / 'Code secret' (apac.preview.meeting_id "
    "'N° de réunion'), es 'ID de reunión' / 'Código de acceso', it 'ID riunione' / 'Passcode', "
    "nl-NL 'Vergadering-ID' / 'Wachtwoord', pt-PT 'ID da reunião' / 'Senha', sv-SE 'Mötes-ID' / "
    "'Lösenkod', pl-PL 'Identyfikator spotkania' / 'Kod dostępu', ja-JP 'ミーティング ID' / "
    "'パスコード', zh-CN '会议号' / '密码', ko-KR '회의 ID' / '암호'; no Danish, Norwegian or "
    "Finnish pack",
    "zoom-pt-parser": "third party: Portuguese Zoom invitation readers (search-index id "
    "12298308773: 'está convidando você', 'ID da reunião:', 'Senha de acesso:'; id 61637066032: "
    "'ID da reunião:' / 'Senha de acesso:' under a Zoom link)",
    "zoom-pt": "third party: a Portuguese Zoom invitation pasted into seed data (search-index "
    "id 56034794856): 'ID da reunião: 830 6726 7308 / Senha: 704878'",
    "zoom-sv": "seen: Zoom's Swedish 'Lösenkod:' under Zoom recording-share links (search-index "
    "ids 20193706500, 2408060974); not a meeting invitation",
    "zoom-zh": "seen: Chinese Zoom invitation (search-index id 30241566635): '加入 Zoom 会议' / "
    "'会议号: 817 3894 3299' / '密码: 378822'",
    "zoom-ko": "seen: Korean Zoom invitations (search-index ids 13088578285, 1582747535, "
    "25234494277, 36754850973): 'Zoom 회의 참가' / '회의 ID: 970 7991 7004' / '암호: 10871'",
    # Webex
    "webex-en": "seen: Webex invitation on an IETF mailing list (search-index id 29394083468): "
    "'https://ietf.webex.com/ietf/j.php?MTID=…' / 'Meeting number (access code): 615 734 219' / "
    "'Meeting password: TSV703'",
    "webex-de": "seen: German WebEx invitation (2012, search-index id 31085506057): "
    "'Meeting-Kennnummer: 705 564 373' / 'Meeting-Passwort: Sky123'; a project's write-up of "
    "the Webex block (id 59104280402): 'Meeting-Kennnummer (Zugriffscode): 2731 234 5678'",
    "webex-zh": "seen: Chinese WebEx invitations (search-index ids 11268368649, 15501237038): "
    "'会议号（访问码）： 182 325 056' / '会议密码： 1234' with a j.php?MTID= link",
    "webex-es": "third party: Spanish Webex join details copied from invitations (search-index "
    "id 26044669749, a library's page: casevents.webex.com/casevents/j.php?MTID=… / 'Reunión "
    "número (código de acceso): 620 607 781' / 'Contraseña de reunión: UNMSM'; id 42530772846, "
    "a course site's template: 'Número de la reunión (código de acceso):' / 'Contraseña de la "
    "reunión:')",
    "webex-ja-docs": "vendor docs: Cisco WebEx Meetings Server 2.8 user guide, Japanese "
    "(quoted at https://fdocuments.fr/document/microsoft-outlook-c-webex-ffff-microsoft-outlook"
    ".html): 'ミーティング番号による参加' (joining by meeting number)",
    "webex-nl-docs": "vendor docs: Cisco's Dutch WebEx help 'Een vergadering plannen' "
    "(help.webex.com DOC-11125, https://help.webex.com/docs/DOC-11125, 'Document created by "
    "Cisco Localization Team on Oct 17, 2016'): an unlisted meeting is joined with 'een uniek "
    "vergaderingnummer' / 'Het vergaderingnummer wordt niet vermeld op de WebEx-site'",
    "webex-pt-docs": "vendor docs: Cisco's Portuguese (Brazil) WebEx help 'Agendar uma reunião' "
    "(help.webex.com DOC-11057, https://help.webex.com/docs/DOC-11057, 'Document created by "
    "Cisco Localization Team on Oct 17, 2016'): 'um número de reunião único' / 'O número da "
    "reunião não está listado no site WebEx'",
    # GoTo
    "goto-en": "seen: GoTo Meeting invitations in public repositories (search-index ids "
    "59548560454, 3826509664): 'Access Code: 193-053-677' / 'Joining from a video-conferencing "
    "room or system? Dial: 67.217.95.2##193053677'",
    "goto-docs": "vendor docs: GoTo's support article 'Host a meeting online (Web App)' "
    "(g2m090008) in the languages GoTo's support site has (English, French, Italian, German, "
    "Spanish, Portuguese): de 'Zunächst müssen Sie sich die Meeting-ID merken' "
    "(https://support.logmeininc.com/de/gotomeeting/help/host-a-meeting-online-web-app-g2m090008), "
    "es 'Primero, anote el ID de reunión' / 'Introduzca el ID de la reunión' "
    "(https://support.logmeininc.com/es/gotomeeting/help/organizar-una-reuni-oacute-n-en-l-iacute"
    "-nea-web-app-g2m090008), it 'prendi nota dell'ID riunione' "
    "(https://support.goto.com/it/meeting/help/host-a-meeting-online-web-app-g2m090008), pt "
    "'anote a ID de reunião' (https://support.goto.com/pt/meeting/help/host-a-meeting-online-web"
    "-app-g2m090008)",
}
"""Source key → what backs the labels that name it."""
