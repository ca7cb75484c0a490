// The passkey buttons of authgate's hosted pages (the only script the
// pages have): WebAuthn Level 3's JSON helpers, then the page's own form,
// so the server decides and answers with a page as for a password.
// Sign-in: a discoverable (usernameless) ceremony from the JSON API.
// Adding a passkey: a ceremony for the browser session's person.
(function () {
  "use strict";
  var form = document.getElementById("passkey-form");
  var error = document.getElementById("passkey-error");
  function show(text) {
    error.textContent = text;
    error.hidden = false;
  }
  async function ceremony(button, start, run) {
    if (!window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) {
      show(button.dataset.unsupported);
      return;
    }
    button.disabled = true;
    try {
      var answer = await start();
      if (!answer.ok) throw new Error("start " + answer.status);
      var begun = await answer.json();
      var credential = await run(begun.options);
      form.elements.session.value = begun.session;
      form.elements.credential.value = JSON.stringify(credential.toJSON());
      form.submit();
    } catch (e) {
      show(button.dataset.failed);
      button.disabled = false;
    }
  }
  var signIn = document.getElementById("passkey-sign-in");
  if (signIn) {
    signIn.addEventListener("click", function () {
      ceremony(
        signIn,
        function () {
          return fetch("/v1/auth/passkeys/sign-in/start", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: "{}",
          });
        },
        function (options) {
          return navigator.credentials.get({
            publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
          });
        }
      );
    });
  }
  var add = document.getElementById("passkey-add");
  if (add) {
    add.addEventListener("click", function () {
      ceremony(
        add,
        function () {
          return fetch("/login/passkey/register/start", {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({ csrf: form.elements.csrf.value }),
          });
        },
        function (options) {
          return navigator.credentials.create({
            publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
          });
        }
      );
    });
  }
})();
