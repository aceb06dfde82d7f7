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
// The role picker: filter as you type (the same rule as the server's ?q=: every word appears in
// the account's alias, id, environment, owner or description, or the role's names or
// description), `/` to search, arrows to move, Enter to open the highlighted role's console;
// stars saved with fetch; bookmark links copied. Without scripts the page does all of it with
// plain forms.
(function () {
  const input = document.getElementById("q");
  const picker = document.getElementById("picker");
  if (!input || !picker) return;
  const count = document.getElementById("count");
  const none = document.getElementById("none");
  const total = picker.querySelectorAll("section[data-account] li.g").length;
  const text = (el) => (el ? el.textContent : "");
  // One lower-case string per row, built once: filtering 2,000 rows is then one pass of
  // `includes` per word.
  const rows = [...picker.querySelectorAll("li.g")].map((li) => {
    const section = li.closest("section");
    const account = li.querySelector(".ac") ? text(li.querySelector(".ac")) : text(section.querySelector("h2")) + " " + text(section.querySelector(".ai"));
    const own = [".rn", "code", ".d"].map((s) => text(li.querySelector(s))).join(" ");
    return { li, section, shown: true, also: li.classList.contains("also"), hay: (account + " " + own).toLowerCase() };
  });
  const sections = [...picker.querySelectorAll("section")].map((el) => ({ el, shown: true, rows: 0 }));
  const sectionOf = new Map(sections.map((s) => [s.el, s]));
  let visible = rows.map((r) => r.li);
  let active = -1;

  const highlight = (i) => {
    if (active >= 0 && visible[active]) visible[active].classList.remove("active");
    active = i;
    if (active >= 0 && visible[active]) visible[active].classList.add("active");
  };
  // Only rows whose state changes are touched: typing one more letter usually hides a few.
  const apply = () => {
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    const filtering = words.length > 0;
    visible = [];
    let matched = 0;
    for (const s of sections) s.rows = 0;
    for (const r of rows) {
      const hit = words.every((w) => r.hay.includes(w));
      // A favourite or recent role is listed once while filtering: in its list above.
      const show = hit && !(filtering && r.also);
      if (show !== r.shown) {
        r.li.hidden = !show;
        r.shown = show;
      }
      if (show) {
        visible.push(r.li);
        sectionOf.get(r.section).rows++;
      }
      if (hit && r.section.dataset.account) matched++;
    }
    for (const s of sections) {
      const show = s.rows > 0;
      if (show !== s.shown) {
        s.el.hidden = !show;
        s.shown = show;
      }
    }
    count.textContent = filtering ? matched + " of " + total + " roles match" : total + " roles";
    if (none) none.hidden = !(filtering && matched === 0);
    highlight(filtering && visible.length ? 0 : -1);
  };
  let pending = 0;
  input.addEventListener("input", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(apply);
  });
  if (input.value) apply();
  const consoleOf = (li) => li && li.querySelector('button[formaction$="/console"]');
  const move = (step) => {
    if (!visible.length) return;
    const here = visible.indexOf(document.activeElement.closest ? document.activeElement.closest("li.g") : null);
    const from = here >= 0 ? here : active;
    const next = Math.max(0, Math.min(visible.length - 1, from + step));
    highlight(next);
    consoleOf(visible[next]).focus();
    visible[next].scrollIntoView({ block: "nearest" });
  };
  input.form.addEventListener("submit", (e) => {
    // Enter in the search field opens the highlighted role's console.
    e.preventDefault();
    apply();
    const target = consoleOf(visible[active >= 0 ? active : 0]);
    if (target && input.value.trim()) target.click();
  });
  document.addEventListener("keydown", (e) => {
    const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName) || e.target.isContentEditable;
    if (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      input.focus();
      input.select();
    } else if ((e.key === "ArrowDown" || e.key === "ArrowUp") && (e.target === input || (e.target.closest && e.target.closest("li.g")))) {
      if (e.target.closest && e.target.closest("details.more[open]")) return;
      e.preventDefault();
      move(e.key === "ArrowDown" ? 1 : -1);
    } else if (e.key === "Escape" && e.target === input && input.value) {
      input.value = "";
      apply();
    }
  });
  // Stars: saved with fetch (the form posts the CSRF token); the button flips in place.
  picker.addEventListener("click", async (e) => {
    const star = e.target.closest("button.star");
    if (!star) return;
    e.preventDefault();
    const body = new URLSearchParams();
    body.set("csrf_token", picker.elements.csrf_token.value);
    body.set("star", star.value);
    try {
      const r = await fetch(star.getAttribute("formaction"), {
        method: "POST",
        headers: { Accept: "application/json" },
        body,
        credentials: "same-origin",
      });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const on = (await r.json()).favourite === true;
      for (const li of picker.querySelectorAll('li.g[data-g="' + CSS.escape(star.closest("li.g").dataset.g) + '"]')) {
        const b = li.querySelector("button.star");
        b.setAttribute("aria-pressed", String(on));
        b.value = on ? "off" : "on";
        b.textContent = on ? "★" : "☆";
      }
      count.textContent = on ? "Added to favourites" : "Removed from favourites";
      setTimeout(apply, 1500);
    } catch (err) {
      count.textContent = "The favourite could not be saved; try again.";
    }
  });
  // Bookmark links: a copy button, added when a More menu opens (the page stays light).
  picker.addEventListener("toggle", (e) => {
    const menu = e.target.matches && e.target.matches("details.more") && e.target.open && e.target.querySelector(".menu");
    if (!menu || menu.querySelector("button.copy")) return;
    const link = menu.querySelector("a.bm");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "copy";
    b.textContent = "Copy link";
    link.after(" ", b);
    b.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(link.href);
        b.textContent = "Copied";
      } catch (err) {
        b.textContent = "Copy failed: use the link";
      }
      setTimeout(() => { b.textContent = "Copy link"; }, 2000);
    });
  }, true);
})();
