/* Room panel: polls the room's meetings with ETag, shows today's list and a Join button that is
 * enabled only inside the join window (judged by the server's clock), asks the endpoint to dial
 * and reports what happened. When the room's last call ended in the meeting's lobby or was
 * declined, a notice says so, with "Try again" (the same meeting, dialled again). Times and "today" are the room's time zone (data-time-zone, an IANA
 * name), written in the viewer's locale. No framework, no external resources; all text goes in
 * with textContent, never as HTML. */
(() => {
  "use strict";

  const body = document.body;
  const stateUrl = body.dataset.stateUrl;
  const dialUrl = body.dataset.dialUrl;
  const retryUrl = body.dataset.retryUrl;
  const pollMs = Math.max(200, Number(body.dataset.pollMs) || 5000);
  const el = (id) => document.getElementById(id);

  let etag = null;
  let meetings = [];
  let offset = 0; // server clock minus browser clock, in ms
  let busy = false;
  let heroId = null;
  let notice = null; // the state's notice, unless this panel closed it
  const closed = new Set(); // calls whose notice was closed here

  let zone = "";
  let clockFormat = null; // hours and minutes in the room's zone, the viewer's locale
  let dayFormat = null; // the calendar day in the room's zone (a comparable key)

  function setZone(name) {
    if (clockFormat && name === zone) return;
    const options = { hour: "2-digit", minute: "2-digit" };
    const day = { year: "numeric", month: "2-digit", day: "2-digit" };
    try {
      clockFormat = new Intl.DateTimeFormat(undefined, { ...options, timeZone: name || undefined });
      dayFormat = new Intl.DateTimeFormat("en-CA", { ...day, timeZone: name || undefined });
    } catch (_) { // a zone this browser does not know: its own
      clockFormat = new Intl.DateTimeFormat(undefined, options);
      dayFormat = new Intl.DateTimeFormat("en-CA", day);
    }
    zone = name;
    body.dataset.zone = clockFormat.resolvedOptions().timeZone;
  }
  setZone(body.dataset.timeZone || "");

  const serverNow = () => Date.now() + offset;
  const time = (iso) => clockFormat.format(new Date(iso));
  const sameDay = (a, b) => dayFormat.format(a) === dayFormat.format(b);
  const joinable = (m, now) =>
    Boolean(m.alias) && now >= Date.parse(m.joinFrom) && now < Date.parse(m.joinUntil);

  function todays(now) {
    const today = new Date(now);
    return meetings.filter((m) =>
      sameDay(new Date(m.startTime), today) || (Date.parse(m.startTime) <= now &&
                                                now < Date.parse(m.endTime)));
  }

  function focusMeeting(list, now) {
    const open = list.filter((m) => joinable(m, now));
    if (open.length) return open[0];
    return list.find((m) => Date.parse(m.endTime) > now) || null;
  }

  function setStatus(state, text) {
    const status = el("status");
    status.dataset.state = state;
    status.textContent = text;
  }

  function renderList(list, now) {
    const ol = el("meetings");
    const focused = document.activeElement;
    const focusedId = focused && focused.dataset ? focused.dataset.id : null;
    ol.replaceChildren();
    for (const m of list) {
      const li = document.createElement("li");
      li.className = "meeting";
      li.dataset.id = m.id;
      li.dataset.current = String(Date.parse(m.startTime) <= now && now < Date.parse(m.endTime));
      li.dataset.past = String(Date.parse(m.endTime) <= now);
      const when = document.createElement("span");
      when.className = "m-time";
      when.textContent = `${time(m.startTime)} – ${time(m.endTime)}`;
      const subject = document.createElement("span");
      subject.className = "m-subject";
      subject.textContent = m.subject || "(no subject)";
      li.append(when, subject);
      if (m.alias) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "m-join";
        button.dataset.id = m.id;
        button.textContent = "Join";
        button.setAttribute("aria-label", `Join ${m.subject || "meeting"} at ${time(m.startTime)}`);
        button.addEventListener("click", () => dial(m));
        li.append(button);
      }
      ol.append(li);
    }
    el("empty").hidden = list.length > 0;
    if (focusedId) {
      const again = ol.querySelector(`button[data-id="${CSS.escape(focusedId)}"]`);
      if (again) again.focus();
    }
  }

  function render() {
    const now = serverNow();
    const list = todays(now);
    renderList(list, now);
    const hero = focusMeeting(list, now);
    heroId = hero ? hero.id : null;
    el("hero").dataset.id = heroId || "";
    if (!hero) {
      el("hero-label").textContent = "No more meetings today";
      el("hero-title").textContent = "";
      el("hero-when").textContent = "";
      el("hero-organizer").textContent = "";
    } else {
      const running = Date.parse(hero.startTime) <= now;
      el("hero-label").textContent = running ? "Now" : "Next meeting";
      el("hero-title").textContent = hero.subject || "(no subject)";
      el("hero-when").textContent = `${time(hero.startTime)} – ${time(hero.endTime)}`;
      el("hero-organizer").textContent = hero.organizerName || hero.organizerEmail || "";
    }
    tick();
  }

  function tick() {
    const now = serverNow();
    el("clock").textContent = clockFormat.format(new Date(now));
    const byId = new Map(meetings.map((m) => [m.id, m]));
    const hero = heroId ? byId.get(heroId) : null;
    const join = el("join");
    const open = Boolean(hero) && joinable(hero, now);
    join.disabled = busy || !open;
    join.dataset.id = hero ? hero.id : "";
    const hint = el("join-hint");
    if (!hero) hint.textContent = "";
    else if (!hero.alias) hint.textContent = "This meeting has no video address.";
    else if (now < Date.parse(hero.joinFrom)) hint.textContent = `Join opens at ${time(hero.joinFrom)}`;
    else if (!open) hint.textContent = "The join window has closed.";
    else hint.textContent = "";
    for (const button of document.querySelectorAll(".m-join")) {
      const m = byId.get(button.dataset.id);
      button.disabled = busy || !m || !joinable(m, now);
    }
  }

  async function post(url, payload, calling, dialling) {
    busy = true;
    tick();
    setStatus("dialling", calling);
    try {
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-OTJ-Panel": "1" },
        body: JSON.stringify(payload),
      });
      let data = {};
      try { data = await response.json(); } catch (_) { data = {}; }
      if (response.ok) {
        setStatus("dialling", dialling);
      } else {
        setStatus("failed", `Could not join: ${data.reason || data.error || response.statusText}`);
      }
    } catch (error) {
      setStatus("failed", `Could not join: ${error.message || "the server did not answer"}`);
    } finally {
      busy = false;
      tick();
    }
  }

  async function dial(meeting) {
    if (busy || !meeting || !joinable(meeting, serverNow())) return;
    await post(dialUrl, { id: meeting.id }, `Calling ${meeting.subject || "the meeting"}…`,
               `Dialling ${meeting.alias}`);
  }

  function showNotice(next) {
    notice = next && !closed.has(next.call) ? next : null;
    const box = el("notice");
    box.hidden = !notice;
    box.dataset.cause = notice ? notice.cause : "";
    el("notice-title").textContent = notice ? notice.title : "";
    el("notice-text").textContent = notice ? notice.text : "";
    el("notice-retry").hidden = !(notice && notice.retry);
  }

  function closeNotice() {
    if (notice) closed.add(notice.call);
    showNotice(null);
  }

  async function tryAgain() {
    if (busy || !notice || !notice.retry) return;
    const call = notice.call;
    closeNotice();
    await post(retryUrl, { call }, "Calling the meeting again…", "Dialling the meeting again");
  }

  async function poll() {
    try {
      const headers = { Accept: "application/json" };
      if (etag) headers["If-None-Match"] = etag;
      const response = await fetch(stateUrl, { headers, cache: "no-store",
                                                credentials: "same-origin" });
      const serverTime = response.headers.get("X-OTJ-Server-Time");
      if (serverTime) offset = Date.parse(serverTime) - Date.now();
      if (el("status").dataset.state === "offline") setStatus("idle", "");
      if (response.status === 200) {
        const data = await response.json();
        meetings = data.meetings;
        etag = response.headers.get("ETag");
        body.dataset.etag = etag || "";
        if (data.roomName) el("room-name").textContent = data.roomName;
        if (data.timeZone) setZone(data.timeZone);
        showNotice(data.notice || null);
        render();
      } else if (response.status === 304) {
        tick();
      } else if (response.status === 401 || response.status === 403) {
        setStatus("offline", "This panel is not authorised for the room any more.");
      }
      body.dataset.polls = String(Number(body.dataset.polls || 0) + 1);
    } catch (_) {
      setStatus("offline", "Cannot reach the server; retrying…");
    } finally {
      window.setTimeout(poll, pollMs);
    }
  }

  el("join").addEventListener("click", () => {
    const m = meetings.find((x) => x.id === heroId);
    if (m) dial(m);
  });
  el("notice-retry").addEventListener("click", tryAgain);
  el("notice-close").addEventListener("click", closeNotice);
  window.setInterval(tick, 1000);
  poll();
})();
