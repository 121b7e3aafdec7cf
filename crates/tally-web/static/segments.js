// The segment builder's live count: as the operator types, the form is sent (as it would be
// submitted) to the count endpoint, and the answer — the count, or what is wrong — is shown.
// Without scripts the "Count members" button does the same with a page load.
// And a static segment's upload: a chosen CSV file is read into the list, so the form stays a
// plain POST; without scripts the list is pasted.
(function () {
  "use strict";
  var file = document.getElementById("members-file");
  var list = document.getElementById("members");
  if (!file || !list || !window.FileReader) return;
  file.addEventListener("change", function () {
    var chosen = file.files && file.files[0];
    if (!chosen) return;
    var reader = new FileReader();
    reader.onload = function () { list.value = String(reader.result); };
    reader.readAsText(chosen);
  });
})();
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
