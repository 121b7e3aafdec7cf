// The segment builder's live count: as the operator types, the form is sent (as it would be
// submitted) to the count endpoint, and the answer — the count, or what is wrong — is shown.
// Without scripts the "Count members" button does the same with a page load.
(function () {
  "use strict";
  var form = document.getElementById("segment-form");
  var out = document.getElementById("live-count");
  var errors = document.getElementById("definition-errors");
  if (!form || !out || !errors || !window.fetch) return;
  var timer = null;
  var asked = 0;
  function count() {
    var mine = ++asked;
    var body = new URLSearchParams(new FormData(form));
    fetch(form.dataset.countUrl, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        if (mine !== asked) return; // a later question is on its way
        errors.textContent = "";
        if (answer.errors) {
          out.textContent = "";
          answer.errors.forEach(function (e) {
            var p = document.createElement("p");
            p.className = "error";
            p.textContent = e;
            errors.appendChild(p);
          });
        } else {
          out.textContent = answer.text;
        }
      })
      .catch(function () {});
  }
  function soon() {
    clearTimeout(timer);
    timer = setTimeout(count, 400);
  }
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
})();
