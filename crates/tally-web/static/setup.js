// Reads the chosen logo into a data URL (a hidden field), so the form stays a plain POST and the
// image is stored with the program. Without scripts the program simply has no logo yet.
(function () {
  "use strict";
  var file = document.getElementById("logo-file");
  var field = document.getElementById("logo_data_url");
  if (!file || !field || !window.FileReader) return;
  file.addEventListener("change", function () {
    var chosen = file.files && file.files[0];
    if (!chosen) { field.value = ""; return; }
    var reader = new FileReader();
    reader.onload = function () { field.value = String(reader.result); };
    reader.readAsDataURL(chosen);
  });
})();
