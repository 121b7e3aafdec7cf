// The wallet's small script: installs the service worker (so the last card shown works offline),
// asks for the member's position only when they press "nearest stores", and turns push
// notifications on for this browser when the member presses the button (never unasked).
(function () {
  "use strict";
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/wallet/sw.js", { scope: "/wallet" }).catch(function () {});
  }
  var near = document.getElementById("near-me");
  if (near && navigator.geolocation) {
    near.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (p) {
        var here = "lat=" + p.coords.latitude.toFixed(5) + "&lon=" + p.coords.longitude.toFixed(5);
        window.location.href = "/wallet/cards/" + near.dataset.card + "?" + here;
      });
    });
  } else if (near) {
    near.hidden = true;
  }

  // Push: the browser subscribes against the server's public key; the subscription goes to
  // the server in the form, which also records the member's push consent.
  var pushForm = document.getElementById("push-form");
  var pushOn = document.getElementById("push-on");
  var canPush = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  if (pushForm && pushOn && canPush) {
    pushOn.hidden = false;
    pushOn.addEventListener("click", function () {
      var refused = function () { document.getElementById("push-error").hidden = false; };
      Notification.requestPermission().then(function (permission) {
        if (permission !== "granted") return refused();
        return navigator.serviceWorker.ready.then(function (registration) {
          return registration.pushManager.subscribe({
            userVisibleOnly: true,
            applicationServerKey: fromBase64url(pushForm.dataset.key),
          });
        }).then(function (subscription) {
          var json = subscription.toJSON();
          pushForm.elements.endpoint.value = json.endpoint;
          pushForm.elements.p256dh.value = json.keys.p256dh;
          pushForm.elements.auth.value = json.keys.auth;
          pushForm.submit();
        });
      }).catch(refused);
    });
  }

  function fromBase64url(text) {
    var base64 = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }
})();
