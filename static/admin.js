// The admin rules page: load a rules document from a file into the text area. Without scripts
// the document is pasted (the file field stays hidden); nothing is sent until the form is.
(function () {
  for (const input of document.querySelectorAll("input[type=file][data-load-into]")) {
    const target = document.getElementById(input.dataset.loadInto);
    const wrapper = input.closest("[hidden]");
    if (!target) continue;
    if (wrapper) wrapper.hidden = false;
    input.addEventListener("change", async () => {
      const file = input.files && input.files[0];
      if (!file) return;
      target.value = await file.text();
      target.focus();
    });
  }
})();
