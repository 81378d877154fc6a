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
