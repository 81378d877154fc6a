// Small progressive enhancements; every page works without them. No inline script: CSP.
document.addEventListener("DOMContentLoaded", function () {
  // Move focus to a form's error summary so that screen-reader users hear what went wrong.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) { summary.focus(); }

  // A module page records that the trainee opened it with a POST once the page is really shown
  // (not while prerendered or in a background tab); a GET records nothing. Without a script,
  // marking the module complete or taking its knowledge check records the opening instead.
  var opener = document.querySelector("[data-record-open]");
  if (opener) { recordOpening(opener); }

  // A notification's link marks it read on the way (data-mark-read="<url to POST>"); without a
  // script, its "Mark as read" button does the same.
  document.querySelectorAll("[data-mark-read]").forEach(function (link) {
    link.addEventListener("click", function (event) { markReadThenFollow(link, event); });
  });

  // Assignment drafts: live word count, autosave, and a copy in this browser (data-autosave).
  document.querySelectorAll("form[data-autosave]").forEach(setUpDraft);
  // Signing out forgets the drafts kept in this browser (it may be a shared computer).
  document.querySelectorAll("form[action$='/account/logout']").forEach(function (form) {
    form.addEventListener("submit", function () {
      try {
        Object.keys(window.localStorage).forEach(function (k) {
          if (k.indexOf("lms-draft-") === 0) { window.localStorage.removeItem(k); }
        });
      } catch (e) { /* storage unavailable */ }
    });
  });

  // The marking page's running total and outcome as levels are chosen (data-rubric).
  document.querySelectorAll("[data-rubric]").forEach(setUpRubric);

  // Copy buttons (data-copy="#selector"), shown only where the clipboard can be used.
  if (!navigator.clipboard || !window.isSecureContext) { return; }
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var source = document.querySelector(button.getAttribute("data-copy"));
    var status = document.querySelector(button.getAttribute("data-copy-status"));
    if (!source) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim()).then(
        function () { if (status) { status.textContent = "Copied."; } },
        function () { if (status) { status.textContent = "Could not copy: select the token and copy it."; } }
      );
    });
  });
});

function recordOpening(element) {
  var url = element.getAttribute("data-record-open");
  var token = element.getAttribute("data-csrf-token");
  var sent = false;
  function send() {
    if (sent || document.prerendering || document.visibilityState !== "visible") { return; }
    sent = true;
    var body = new FormData();
    body.append("csrf_token", token);
    if (window.fetch) {
      fetch(url, {
        method: "POST", body: body, credentials: "same-origin", keepalive: true,
        headers: {"X-CSRFToken": token}
      }).catch(function () { /* offline: the next explicit action records it */ });
    } else if (navigator.sendBeacon) {
      navigator.sendBeacon(url, body);
    }
  }
  document.addEventListener("visibilitychange", send);
  document.addEventListener("prerenderingchange", send);
  send();
}

function markReadThenFollow(link, event) {
  var url = link.getAttribute("data-mark-read");
  var holder = link.closest("[data-csrf-token]");
  if (!url || !holder || !window.fetch) { return; }
  var token = holder.getAttribute("data-csrf-token");
  var body = new FormData();
  body.append("csrf_token", token);
  var sending = fetch(url, {
    method: "POST", body: body, credentials: "same-origin", keepalive: true,
    headers: {"X-CSRFToken": token, "X-Requested-With": "fetch"}
  });
  link.removeAttribute("data-mark-read");  // once is enough
  // A new tab or window (or a download) leaves this page open: the request goes on its own.
  if (event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
    sending.catch(function () { /* offline: the button still marks it read */ });
    return;
  }
  event.preventDefault();
  var followed = false;
  function follow() {
    if (followed) { return; }
    followed = true;
    window.location.assign(link.href);
  }
  sending.then(follow, follow);
  // A slow server must not hold the person up: the request is sent with keepalive.
  window.setTimeout(follow, 1000);
}

function countWords(text) {
  // The server counts the same way: runs of non-space characters.
  var words = text.match(/\S+/g);
  return words ? words.length : 0;
}

function setUpDraft(form) {
  var area = form.querySelector("textarea[name=text]");
  var counter = form.querySelector("[data-word-count]");
  var status = form.querySelector("[data-save-status]");
  var revision = form.querySelector("input[name=revision]");
  var limit = parseInt(area.getAttribute("data-word-limit"), 10);
  var key = form.getAttribute("data-storage-key");
  var token = form.querySelector("input[name=csrf_token]").value;
  var saved = area.value, timer = null, saving = false;

  function showCount() {
    var n = countWords(area.value);
    counter.textContent = n + (n === 1 ? " word" : " words") + (limit ? " of " + limit : "") +
      (limit && n > limit ? ": over the limit, shorten it before you submit" : "");
    counter.classList.toggle("text-danger", Boolean(limit && n > limit));
  }

  // A copy kept in this browser survives a closed tab or a failed save; it is offered back
  // when it differs from what the server has.
  try {
    var kept = key && window.localStorage.getItem(key);
    if (kept && kept !== area.value) {
      var offer = document.createElement("div");
      offer.className = "alert alert-info";
      offer.setAttribute("role", "status");
      offer.textContent = "This browser kept a newer copy of your draft than the saved one. ";
      var restore = document.createElement("button");
      restore.type = "button";
      restore.className = "btn btn-sm btn-primary";
      restore.textContent = "Restore it";
      restore.addEventListener("click", function () {
        area.value = kept; offer.remove(); showCount(); schedule();
      });
      offer.appendChild(restore);
      form.insertBefore(offer, form.firstChild);
    }
  } catch (e) { /* storage unavailable: the server copy is all there is */ }

  function keepLocally() {
    try { if (key) { window.localStorage.setItem(key, area.value); } } catch (e) { /* full or blocked */ }
  }

  // Resolves once what is in the box is saved (or saving failed); ``keepalive`` lets a save
  // started as the tab closes finish on its own.
  function save(keepalive) {
    timer = null;
    if (!window.fetch) { return Promise.resolve(false); }
    if (saving) { return saving.then(function () { return save(keepalive); }); }
    if (area.value === saved) { return Promise.resolve(true); }
    var text = area.value;
    var body = new FormData();
    body.append("csrf_token", token);
    body.append("text", text);
    body.append("revision", revision.value);
    status.textContent = "Saving…";
    saving = fetch(form.action, {
      method: "POST", body: body, credentials: "same-origin", keepalive: Boolean(keepalive),
      headers: {"X-CSRFToken": token, "X-Requested-With": "fetch", "Accept": "application/json"}
    }).then(function (response) {
      return response.json().then(function (data) { return {ok: response.ok, data: data}; });
    }).then(function (result) {
      saving = false;
      if (result.ok) {
        saved = text;
        revision.value = result.data.revision;
        status.textContent = "Draft saved at " + result.data.saved_at + " (UTC).";
        try { if (key && area.value === text) { window.localStorage.removeItem(key); } } catch (e) { /* ignore */ }
        if (area.value !== saved) { schedule(); }
        return true;
      }
      status.textContent = "Not saved: " + (result.data.error && result.data.error.message) +
        " Your text is kept in this browser.";
      return false;
    }).catch(function () {
      saving = false;
      status.textContent = "Not saved (no connection?). Your text is kept in this browser; it will be saved when you are back online.";
      return false;
    });
    return saving;
  }

  function schedule() {
    keepLocally();
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(save, 3000);
  }

  area.addEventListener("input", function () { showCount(); schedule(); });
  window.addEventListener("online", function () { if (area.value !== saved) { save(); } });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden" && area.value !== saved) { keepLocally(); save(true); }
  });
  // "Save draft" on an existing draft saves in place (no second, stale save racing an
  // autosave); without a script it posts the form as usual.
  form.addEventListener("submit", function (event) {
    // The first save makes the draft and the page then offers to submit it: let it load.
    if (!window.fetch || form.getAttribute("data-has-draft") !== "yes") { return; }
    event.preventDefault();
    if (timer) { clearTimeout(timer); }
    saved = null;  // save even if nothing changed: the person asked for it
    save();
  });
  // Submitting waits for the last words typed to be saved, so what is marked is what was written.
  var submitForm = document.querySelector("form[data-submit-draft]");
  if (submitForm) {
    submitForm.addEventListener("submit", function (event) {
      if (area.value === saved || submitForm.getAttribute("data-saved") === "yes") { forget(); return; }
      event.preventDefault();
      if (timer) { clearTimeout(timer); }
      save().then(function (ok) {
        if (ok) { forget(); submitForm.setAttribute("data-saved", "yes"); submitForm.requestSubmit(); }
      });
    });
  }
  function forget() { try { if (key) { window.localStorage.removeItem(key); } } catch (e) { /* ignore */ } }
  showCount();
}

function setUpRubric(rubric) {
  var output = rubric.parentNode.querySelector("[data-running-total]");
  var pass = parseInt(rubric.getAttribute("data-pass-mark"), 10);
  var max = parseInt(rubric.getAttribute("data-max"), 10);
  var criteria = rubric.querySelectorAll("fieldset");
  var points = rubric.querySelector("[data-points-input]");
  function update() {
    var total = 0, missing = 0;
    if (points) {
      if (points.value === "") { missing = 1; } else { total = parseInt(points.value, 10) || 0; }
    } else {
      criteria.forEach(function (fieldset) {
        var chosen = fieldset.querySelector("input[type=radio]:checked");
        if (chosen) { total += parseInt(chosen.getAttribute("data-points"), 10); } else { missing += 1; }
      });
    }
    if (!output) { return; }
    output.textContent = missing
      ? "Running total: " + total + " of " + max + " (" + missing + " still to mark). Pass mark: " + pass + "."
      : "Total: " + total + " of " + max + ": " + (total >= pass ? "pass" : "below the pass mark (refer or fail)") + ".";
  }
  rubric.addEventListener("change", update);
  rubric.addEventListener("input", update);
  update();
}
