// Camera scanning of the wallet's QR code on the cashier screen, where the browser has the
// BarcodeDetector API; elsewhere the button stays hidden and the card number is typed.
(function () {
  "use strict";
  var button = document.getElementById("scan");
  var video = document.getElementById("camera");
  var field = document.getElementById("find");
  if (!button || !("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  button.hidden = false;
  button.addEventListener("click", async function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    var stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    var stop = function () { stream.getTracks().forEach(function (t) { t.stop(); }); video.hidden = true; };
    var look = async function () {
      var codes = await detector.detect(video).catch(function () { return []; });
      if (codes.length > 0) {
        stop();
        field.value = codes[0].rawValue;
        field.form.submit();
      } else if (!video.hidden) {
        requestAnimationFrame(look);
      }
    };
    look();
  });
})();
