// webauthn.js: security keys and passkeys, for the routes twofactorhttp
// serves under <prefix>webauthn/ (login/begin, login/finish, register/begin,
// register/finish). No dependencies. Include it from there; the challenge
// page does:
//
//   <button data-webauthn="login">Use your security key</button>
//   <script src="/2fa/webauthn/webauthn.js"></script>
//
// Buttons: data-webauthn="register" (name from data-webauthn-name, or the
// input named by the selector in data-webauthn-name-input) or
// data-webauthn="login" (remember-device checkbox from the selector in
// data-webauthn-remember). While running, the button has
// data-webauthn-state="pending", then "done" or "error" (with
// data-webauthn-error = the error code); it fires "webauthn:done" or
// "webauthn:error" events, writes the message into the element named by
// data-webauthn-status, and follows the server's "next" URL after a login.
// The same functions are available as window.TwoFactorWebAuthn. The
// script tag's data-msg-* attributes (cancelled, insecure, browser,
// unsupported, failed, registered) carry the messages of the browser's
// own failures in the page's language; English without them.
(function () {
  "use strict";

  var me = document.currentScript;
  var base = (me && me.getAttribute("data-base")) ||
    (me && me.src ? me.src.replace(/\/webauthn\.js(?:[?#].*)?$/, "") : "");

  function toBuffer(s) {
    s = String(s).replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toBase64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      var c = Object.assign({}, d);
      c.id = toBuffer(d.id);
      return c;
    });
  }

  // msg returns the page's text of a message, else its English default.
  function msg(name, fallback) {
    return (me && me.getAttribute("data-msg-" + name)) || fallback;
  }

  function fail(code, message) {
    var e = new Error(message);
    e.code = code;
    return e;
  }

  function post(path, body) {
    return fetch(base + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          var e = fail(data.error || "http_" + res.status, data.message || msg("failed", "The request failed. Please try again."));
          e.status = res.status;
          throw e;
        }
        return data;
      });
    });
  }

  // credentialJSON encodes a PublicKeyCredential as the server expects it.
  function credentialJSON(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64url(r.clientDataJSON) }
    };
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    if (r.attestationObject) {
      out.response.attestationObject = toBase64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = toBase64url(r.authenticatorData);
      out.response.signature = toBase64url(r.signature);
      if (r.userHandle) out.response.userHandle = toBase64url(r.userHandle);
    }
    return out;
  }

  // browserError turns a DOMException from navigator.credentials into an
  // error with a code.
  function browserError(err) {
    if (err && err.code && typeof err.code === "string") return err;
    var name = err && err.name;
    if (name === "InvalidStateError") return fail("already_registered", msg("registered", "This security key is already registered."));
    if (name === "NotAllowedError" || name === "AbortError") return fail("cancelled", msg("cancelled", "The request was cancelled or timed out."));
    if (name === "SecurityError") return fail("security", msg("insecure", "This page's address cannot use security keys."));
    // The browser's own message is in the browser's language, not
    // necessarily the page's: the page's words come first.
    return fail("browser", msg("browser", (err && err.message) || "The browser could not use the security key."));
  }

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials);
  }

  function unsupported() {
    return Promise.reject(fail("unsupported", msg("unsupported", "This browser does not support security keys.")));
  }

  // register adds a security key named name for the signed-in user (a
  // passkey when passkey is true) and resolves to {enrollment: {id, name,
  // created_at}}.
  function register(name, passkey, mediation, q) {
    if (!supported()) return unsupported();
    var begun = post("/register/begin", { name: name || "", passkey: !!passkey });
    if (q) q.begun = begun.catch(function () {});
    var signal = q && q.ctrl.signal;
    return begun.then(function (begin) {
      var pk = Object.assign({}, begin.options.publicKey);
      pk.challenge = toBuffer(pk.challenge);
      pk.user = Object.assign({}, pk.user, { id: toBuffer(pk.user.id) });
      pk.excludeCredentials = descriptors(pk.excludeCredentials);
      var req = { publicKey: pk };
      if (mediation) req.mediation = mediation;
      if (signal) req.signal = signal;
      return navigator.credentials.create(req).then(function (cred) {
        return post("/register/finish", { credential: credentialJSON(cred) });
      }, function (err) { throw browserError(err); });
    });
  }

  // login answers the pending challenge with a security key and resolves
  // to {ok: true, next: url}.
  function login(opts) {
    if (!supported()) return unsupported();
    return post("/login/begin", {}).then(function (begin) {
      var pk = Object.assign({}, begin.options.publicKey);
      pk.challenge = toBuffer(pk.challenge);
      pk.allowCredentials = descriptors(pk.allowCredentials);
      return navigator.credentials.get({ publicKey: pk }).then(function (cred) {
        return post("/login/finish", {
          credential: credentialJSON(cred),
          remember_device: !!(opts && opts.rememberDevice)
        });
      }, function (err) { throw browserError(err); });
    });
  }

  // passkeyGet asks the browser for a passkey of the site (no user named:
  // the passkey names its account) and posts its answer; it resolves to
  // {status, next}. mediation "conditional" waits for the person to pick
  // a passkey in a field's autofill; signal aborts it.
  function passkeyGet(mediation, q) {
    if (!supported()) return unsupported();
    var signal = q && q.ctrl.signal;
    return post("/passkey/begin", {}).then(function (begin) {
      var pk = Object.assign({}, begin.options.publicKey);
      pk.challenge = toBuffer(pk.challenge);
      pk.allowCredentials = descriptors(pk.allowCredentials);
      var req = { publicKey: pk };
      if (mediation) req.mediation = mediation;
      if (signal) req.signal = signal;
      return navigator.credentials.get(req).then(function (cred) {
        return post("/passkey/finish", {
          ceremony: begin.ceremony,
          credential: credentialJSON(cred),
          next: (me && me.getAttribute("data-next")) || ""
        });
      }, function (err) { throw browserError(err); });
    });
  }

  // Conditional mediation: on a page with a field whose autocomplete
  // names "webauthn" (a login form's user name), the browser offers the
  // site's passkeys in that field's autofill; picking one signs in.
  function startAutofill() {
    if (!document.querySelector('input[autocomplete~="webauthn"]') || !supported() ||
      !window.PublicKeyCredential.isConditionalMediationAvailable) return;
    window.PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
      if (!ok) return;
      var field = document.querySelector('input[autocomplete~="webauthn"]');
      passkeyGet("conditional", quietly()).then(function (res) {
        document.documentElement.setAttribute("data-webauthn-autofill", "done");
        if (res && res.next) window.location.assign(res.next);
      }, function (err) {
        if (err && err.code === "cancelled") return; // aborted for a button, or never picked
        field.dispatchEvent(new CustomEvent("webauthn:error", { bubbles: true, detail: { code: err.code, message: err.message } }));
        var status = document.querySelector("[data-webauthn='passkey']");
        status = status && pick(status, "data-webauthn-status");
        if (status) status.textContent = err.message;
      });
      document.documentElement.setAttribute("data-webauthn-autofill", "waiting");
    });
  }

  // signal tells the browser's password manager which of the user's
  // passkeys the site still accepts, and the user's current names
  // (WebAuthn Level 3 signal methods), from an element's
  // data-webauthn-signal: {"rpId", "userId", "allAcceptedCredentialIds",
  // "name", "displayName"}. Browsers without them skip it.
  function signal() {
    var el = document.querySelector("[data-webauthn-signal]");
    var P = window.PublicKeyCredential;
    if (!el || !P) return;
    var s;
    try { s = JSON.parse(el.getAttribute("data-webauthn-signal")); } catch (e) { return; }
    if (P.signalAllAcceptedCredentials && s.allAcceptedCredentialIds) {
      P.signalAllAcceptedCredentials({ rpId: s.rpId, userId: s.userId, allAcceptedCredentialIds: s.allAcceptedCredentialIds }).catch(function () {});
    }
    if (P.signalCurrentUserDetails && s.name) {
      P.signalCurrentUserDetails({ rpId: s.rpId, userId: s.userId, name: s.name, displayName: s.displayName || s.name }).catch(function () {});
    }
    if (P.signalUnknownCredential && s.unknownCredentialId) {
      P.signalUnknownCredential({ rpId: s.rpId, credentialId: s.unknownCredentialId }).catch(function () {});
    }
  }

  function pick(el, attr) {
    var sel = el.getAttribute(attr);
    return sel ? document.querySelector(sel) : null;
  }

  function bind(el) {
    if (el.getAttribute("data-webauthn-bound")) return;
    el.setAttribute("data-webauthn-bound", "1");
    el.addEventListener("click", function (ev) {
      ev.preventDefault();
      if (el.getAttribute("data-webauthn-state") === "pending") return;
      var status = pick(el, "data-webauthn-status");
      var run;
      if (el.getAttribute("data-webauthn") === "register") {
        var input = pick(el, "data-webauthn-name-input");
        var asPasskey = el.hasAttribute("data-webauthn-passkey");
        run = function () {
          return stopQuiet().then(function () {
            return register(input ? input.value : el.getAttribute("data-webauthn-name"), asPasskey);
          });
        };
      } else if (el.getAttribute("data-webauthn") === "passkey") {
        run = function () { return stopQuiet().then(function () { return passkeyGet("", null); }); };
      } else {
        var box = pick(el, "data-webauthn-remember");
        run = function () { return login({ rememberDevice: !!(box && box.checked) }); };
      }
      el.setAttribute("data-webauthn-state", "pending");
      el.removeAttribute("data-webauthn-error");
      if (status) status.textContent = "";
      Promise.resolve().then(run).then(function (res) {
        el.setAttribute("data-webauthn-state", "done");
        el.dispatchEvent(new CustomEvent("webauthn:done", { bubbles: true, detail: res }));
        if (res && res.next) window.location.assign(res.next);
      }, function (err) {
        err = browserError(err);
        el.setAttribute("data-webauthn-state", "error");
        el.setAttribute("data-webauthn-error", err.code);
        if (status) status.textContent = err.message;
        el.dispatchEvent(new CustomEvent("webauthn:error", { bubbles: true, detail: { code: err.code, message: err.message } }));
      });
    });
  }

  // quiet is a request that waits for the person without asking them
  // (the autofill's passkeys, the offer's creation): a button's ceremony
  // ends it first, as the browser runs one at a time. stopQuiet resolves
  // once the quiet request's begin call has been answered: the server
  // keeps one registration per user, so the button's must come after it.
  var quiet = null;
  function stopQuiet() {
    var q = quiet;
    quiet = null;
    if (!q) return Promise.resolve();
    q.ctrl.abort();
    return q.begun || Promise.resolve();
  }

  // quietly starts a new quiet request: {ctrl, begun}.
  function quietly() {
    stopQuiet();
    quiet = { ctrl: new AbortController(), begun: null };
    return quiet;
  }

  // offerQuietly: on the page that offers a passkey after a password
  // sign-in, a browser that can create one without asking (WebAuthn's
  // conditional create, right after its password manager filled the
  // password) does so; the button stays for the others.
  function offerQuietly() {
    var el = document.querySelector("[data-webauthn-offer]");
    var P = window.PublicKeyCredential;
    if (!el || !P || !P.getClientCapabilities) return;
    P.getClientCapabilities().then(function (caps) {
      if (!caps || !caps.conditionalCreate) return;
      if (el.getAttribute("data-webauthn-state")) return; // the button came first
      return register("", true, "conditional", quietly()).then(function (res) {
        el.setAttribute("data-webauthn-state", "done");
        el.dispatchEvent(new CustomEvent("webauthn:done", { bubbles: true, detail: res }));
      });
    }).catch(function () {}); // not now: the button is there
  }

  function bindAll() {
    var els = document.querySelectorAll("[data-webauthn]");
    for (var i = 0; i < els.length; i++) bind(els[i]);
    startAutofill();
    signal();
    offerQuietly();
  }

  window.TwoFactorWebAuthn = {
    register: register,
    login: login,
    passkey: function () { return stopQuiet().then(function () { return passkeyGet("", null); }); },
    bind: bind,
    supported: supported,
    toBuffer: toBuffer,
    toBase64url: toBase64url
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", bindAll);
  } else {
    bindAll();
  }
})();
