// Copy buttons and local-time expiry on the credentials page. No inline script: the CSP allows
// only scripts served by Roleport itself.
(function () {
  for (const button of document.querySelectorAll("button.copy")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      try {
        await navigator.clipboard.writeText(source.textContent);
        button.textContent = "Copied";
      } catch (e) {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = "Press Ctrl+C";
      }
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    });
  }
  for (const t of document.querySelectorAll("time[datetime]")) {
    const when = new Date(t.getAttribute("datetime"));
    if (!isNaN(when)) t.textContent = when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "long" });
  }
  // Live countdown next to the stated expiry (the page states the time without scripts).
  const countdown = document.querySelector("[data-countdown-to]");
  if (countdown) {
    const end = new Date(countdown.dataset.countdownTo);
    const tick = () => {
      const left = Math.floor((end - Date.now()) / 1000);
      if (isNaN(left)) return;
      if (left <= 0) {
        countdown.textContent = " (expired)";
        return;
      }
      const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      countdown.textContent = " (expires in " + (h ? h + " h " : "") + (h || m ? m + " min " : "") + s + " s)";
      setTimeout(tick, 1000);
    };
    countdown.hidden = false;
    tick();
  }
})();
// The console-only SAML POST page posts itself; without scripts its button does the same.
(function () {
  const form = document.querySelector("form[data-autosubmit]");
  if (form) form.submit();
})();
