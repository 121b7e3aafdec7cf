// Uploads that stay plain forms: a CSV file chosen in `<input type="file" data-fills="ID">` is
// read into the textarea `ID`, so the form is still one ordinary POST (without scripts, the
// list is pasted instead). Used by static segments and voucher code imports.
(function () {
  "use strict";
  if (!window.FileReader) return;
  document.querySelectorAll("input[type=file][data-fills]").forEach(function (file) {
    var list = document.getElementById(file.dataset.fills);
    if (!list) return;
    file.addEventListener("change", function () {
      var chosen = file.files && file.files[0];
      if (!chosen) return;
      var reader = new FileReader();
      reader.onload = function () { list.value = String(reader.result); };
      reader.readAsText(chosen);
    });
  });
})();
