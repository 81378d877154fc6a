// Small progressive enhancements; every page works without them. No inline script: CSP.
document.addEventListener("DOMContentLoaded", function () {
  // Move focus to a form's error summary so that screen-reader users hear what went wrong.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) { summary.focus(); }

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
