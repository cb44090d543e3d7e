// Progressive enhancement only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // The header's menu: open on a wide window, closed on a narrow one (the page chose by the
  // browser's kind when it was made); Escape closes it and gives the focus back to its button.
  const menu = document.getElementById("site-menu");
  const narrow = window.matchMedia ? window.matchMedia("(max-width: 40rem)") : null;
  if (menu && narrow) {
    const fit = () => {
      menu.open = !narrow.matches;
    };
    fit();
    if (narrow.addEventListener) narrow.addEventListener("change", fit);
    menu.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && menu.open && narrow.matches) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
  }

  const error = document.getElementById("form-error");
  if (error) {
    const invalid = document.querySelector('[aria-invalid="true"]');
    (invalid || error).focus?.();
  }

  // Character counters: <textarea maxlength data-counter="id-of-the-counter">; the counter's
  // data-template says "{count} of {max} characters used" in the page's language.
  for (const area of document.querySelectorAll("textarea[data-counter]")) {
    const counter = document.getElementById(area.dataset.counter);
    if (!counter) continue;
    const max = area.maxLength > 0 ? area.maxLength : 0;
    const template = counter.dataset.template || "{count}";
    const update = () => {
      const count = Array.from(area.value).length;
      counter.textContent = template.replace("{count}", count).replace("{max}", max);
      counter.classList.toggle("near-limit", max > 0 && count > max * 0.9);
    };
    area.addEventListener("input", update);
    update();
  }
});
