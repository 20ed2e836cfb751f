// The Keyplane console's only script: small enhancements; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // A copy button next to a secret shown once.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        var said = document.querySelector("[data-copied]");
        if (said) { said.hidden = false; }
      });
    });
  });
  // Forms whose action cannot be undone ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
});
