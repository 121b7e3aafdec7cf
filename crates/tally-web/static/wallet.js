// The wallet's small script: installs the service worker (so the last card shown works offline)
// and asks for the member's position only when they press "nearest stores".
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
})();
