// otj console: the live preview of a meeting processing rule being edited.
// The rule form and the invitation are posted as they are (nothing is saved); the server
// answers with an HTML fragment it rendered (autoescaped), shown in #preview-result.
(function () {
  "use strict";
  var ruleForm = document.getElementById("object-form");
  var input = document.getElementById("preview-input");
  var out = document.getElementById("preview-result");
  if (!ruleForm || !input || !out || !ruleForm.dataset.preview) {
    return;
  }
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  var sequence = 0;
  var timer = null;

  function formData() {
    var data = new FormData(ruleForm);
    new FormData(input).forEach(function (value, key) {
      data.append(key, value);
    });
    return data;
  }

  function run() {
    var mine = ++sequence;
    out.setAttribute("aria-busy", "true");
    fetch(ruleForm.dataset.preview, {
      method: "POST",
      body: formData(),
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf },
    })
      .then(function (response) {
        return response.text().then(function (text) {
          return { ok: response.ok, status: response.status, text: text };
        });
      })
      .then(function (answer) {
        if (mine !== sequence) {
          return; // a newer edit's preview is on its way
        }
        out.removeAttribute("aria-busy");
        if (answer.ok) {
          out.innerHTML = answer.text;
        } else {
          out.textContent = "The preview failed (" + answer.status + "): " + answer.text;
        }
      })
      .catch(function (error) {
        if (mine === sequence) {
          out.removeAttribute("aria-busy");
          out.textContent = "The preview failed: " + error;
        }
      });
  }

  function soon() {
    if (timer) {
      clearTimeout(timer);
    }
    timer = setTimeout(run, 250);
  }

  ruleForm.addEventListener("input", soon);
  ruleForm.addEventListener("change", soon);
  input.addEventListener("input", soon);
  input.addEventListener("change", soon);
  document.getElementById("preview-now").addEventListener("click", run);

  // "Load its meetings": the room's events as <option>s, rendered by the server
  var load = document.getElementById("load-meetings");
  var room = document.getElementById("p-room");
  var picked = document.getElementById("p-event");
  if (load && room && picked) {
    load.addEventListener("click", function () {
      var url = load.dataset.events + "?room=" + encodeURIComponent(room.value);
      picked.innerHTML = "<option value=''>loading…</option>";
      fetch(url, { credentials: "same-origin" })
        .then(function (response) {
          return response.text();
        })
        .then(function (text) {
          picked.innerHTML = text;
          picked.focus();
        })
        .catch(function (error) {
          picked.innerHTML = "";
          out.textContent = "Reading the room's calendar failed: " + error;
        });
    });
  }
})();
