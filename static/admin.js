// The admin rules page: a chosen rules file is read into the text area, where it can be read and
// edited before the dry run; the file field is then cleared, so the text area is what is sent.
// Without scripts the form sends the file itself (multipart); nothing is sent until the form is.
(function () {
  for (const input of document.querySelectorAll("input[type=file][data-load-into]")) {
    const target = document.getElementById(input.dataset.loadInto);
    if (!target) continue;
    input.addEventListener("change", async () => {
      const file = input.files && input.files[0];
      if (!file) return;
      target.value = await file.text();
      input.value = "";
      const help = document.getElementById("document-help");
      if (help) help.textContent = file.name + " is in the text box below: read or edit it there, then show what would change.";
      target.focus();
    });
  }
})();
