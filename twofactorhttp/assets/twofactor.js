// twofactor.js: what scripts add to the twofactorhttp pages, which work
// without them. No dependencies; loaded as a file (the pages' CSP allows no
// inline script).
//
//   - A code input with data-length submits its form once that many digits
//     (or characters) are typed or pasted.
//   - An element with data-countdown="<seconds>" counts down, with its
//     data-template ("... {s} s."), and keeps the button named by data-for
//     disabled until zero.
//   - A code input with data-webotp is filled from the SMS by the WebOTP
//     API, where the browser has it.
(function () {
  "use strict";

  function autoSubmit(input) {
    var n = parseInt(input.getAttribute("data-length"), 10);
    if (!(n > 0) || !input.form) return;
    var sent = false;
    input.addEventListener("input", function () {
      var v = input.value.replace(/[\s-]/g, "");
      if (input.inputMode === "numeric") v = v.replace(/\D/g, "");
      if (v.length === n && !sent) {
        sent = true;
        input.value = v;
        if (input.form.requestSubmit) input.form.requestSubmit(); else input.form.submit();
      } else if (v.length < n) {
        sent = false;
      }
    });
  }

  function countdown(el) {
    var left = parseInt(el.getAttribute("data-countdown"), 10);
    var template = el.getAttribute("data-template") || "{s}";
    var button = document.getElementById(el.getAttribute("data-for") || "");
    if (!(left > 0)) return;
    if (button) button.disabled = true;
    function tick() {
      if (left <= 0) {
        el.hidden = true;
        if (button) button.disabled = false;
        return;
      }
      el.textContent = template.replace("{s}", String(left));
      left--;
      setTimeout(tick, 1000);
    }
    tick();
  }

  function webOTP(input) {
    if (!("OTPCredential" in window) || !input.form) return;
    var ac = new AbortController();
    input.form.addEventListener("submit", function () { ac.abort(); });
    navigator.credentials.get({ otp: { transport: ["sms"] }, signal: ac.signal }).then(function (otp) {
      if (otp && otp.code) {
        input.value = otp.code;
        input.dispatchEvent(new Event("input"));
      }
    }).catch(function () {});
  }

  function init() {
    var i, els = document.querySelectorAll("input[data-length]");
    for (i = 0; i < els.length; i++) autoSubmit(els[i]);
    els = document.querySelectorAll("[data-countdown]");
    for (i = 0; i < els.length; i++) countdown(els[i]);
    els = document.querySelectorAll("input[data-webotp]");
    for (i = 0; i < els.length; i++) webOTP(els[i]);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
