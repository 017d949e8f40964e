// twofactor.js: what scripts add to the twofactorhttp pages, which work
// without them. No dependencies; loaded as a file (the pages' CSP allows no
// inline script).
//
//   - A code input with data-length submits its form once that many digits
//     (or characters) are typed or pasted, unless the form also holds a
//     checkbox ("Trust this device"): a person who types the code first
//     must still be able to tick it, so such a form waits for its button,
//     as the sign-in pages of Google and Microsoft do beside their "don't
//     ask again" box.
//   - A <time datetime> with data-local-time shows its time of day in the
//     browser's time zone (the server writes it in UTC).
//   - An element with data-countdown="<seconds>" counts down, with its
//     data-template ("... {s} s."), and keeps the button named by data-for
//     disabled until zero.
//   - A code input with data-webotp is filled from the SMS by the WebOTP
//     API, where the browser has it.
//   - A button with data-copy="<selector>" (hidden until this script shows
//     it) copies that element's text, without spaces, to the clipboard and
//     writes data-copy-done into the element named by data-copy-status.
//   - A button with data-print (hidden until shown here) prints the page.
//   - A security-key register button (data-webauthn="register") with
//     data-webauthn-done goes there once the key is added, or to
//     data-webauthn-codes when backup codes came with it; refused for a
//     missing step-up, it goes to data-webauthn-stepup.
(function () {
  "use strict";

  function autoSubmit(input) {
    var n = parseInt(input.getAttribute("data-length"), 10);
    if (!(n > 0) || !input.form) return;
    if (input.form.querySelector("input[type=checkbox]")) return;
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

  function localTime(el) {
    var d = new Date(el.getAttribute("datetime"));
    if (isNaN(d.getTime()) || !d.toLocaleTimeString) return;
    el.textContent = d.toLocaleTimeString(document.documentElement.lang || undefined, { hour: "numeric", minute: "2-digit" });
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

  function copyButton(button) {
    var target = document.querySelector(button.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) return;
    var status = document.querySelector(button.getAttribute("data-copy-status") || "");
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent.replace(/\s+/g, "")).then(function () {
        if (status) status.textContent = button.getAttribute("data-copy-done") || "";
      }, function () {});
    });
  }

  function printButton(button) {
    if (!window.print) return;
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  }

  function keyRegistered(button) {
    button.addEventListener("webauthn:done", function (ev) {
      var d = ev.detail || {};
      var codes = button.getAttribute("data-webauthn-codes");
      if (d.backup_codes && d.backup_codes.length && codes) {
        window.location.assign(codes);
      } else {
        window.location.assign(button.getAttribute("data-webauthn-done"));
      }
    });
    button.addEventListener("webauthn:error", function (ev) {
      var up = button.getAttribute("data-webauthn-stepup");
      if (ev.detail && ev.detail.code === "step_up_required" && up) window.location.assign(up);
    });
  }

  function init() {
    var i, els = document.querySelectorAll("input[data-length]");
    for (i = 0; i < els.length; i++) autoSubmit(els[i]);
    els = document.querySelectorAll("time[data-local-time]");
    for (i = 0; i < els.length; i++) localTime(els[i]);
    els = document.querySelectorAll("[data-countdown]");
    for (i = 0; i < els.length; i++) countdown(els[i]);
    els = document.querySelectorAll("input[data-webotp]");
    for (i = 0; i < els.length; i++) webOTP(els[i]);
    els = document.querySelectorAll("button[data-copy]");
    for (i = 0; i < els.length; i++) copyButton(els[i]);
    els = document.querySelectorAll("button[data-print]");
    for (i = 0; i < els.length; i++) printButton(els[i]);
    els = document.querySelectorAll("[data-webauthn=register][data-webauthn-done]");
    for (i = 0; i < els.length; i++) keyRegistered(els[i]);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
