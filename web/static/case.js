// The case page follows its case live: on each change it reloads, unless the reader is
// writing in one of its forms; then a banner offers the reload instead. Progressive
// enhancement only: the page works without this file.
"use strict";
(() => {
  const banner = document.getElementById("live-banner");
  if (!banner || !banner.dataset.stream || !("EventSource" in window)) return;

  const edited = (el) => {
    if (el.type === "radio" || el.type === "checkbox") return el.checked !== el.defaultChecked;
    if (el.tagName === "SELECT") return Array.from(el.options).some((o) => o.selected !== o.defaultSelected);
    return el.value !== el.defaultValue;
  };
  const writing = () => {
    // A form sent back with an error holds what the reader wrote (and the page answers a POST).
    if (document.getElementById("form-error")) return true;
    const fields = document.querySelectorAll("main form textarea, main form input:not([type=hidden]), main form select");
    return Array.from(fields).some((el) => edited(el) || (el === document.activeElement && el.tagName !== "SELECT"));
  };

  const source = new EventSource(banner.dataset.stream);
  source.addEventListener("changed", () => {
    if (writing()) {
      banner.hidden = false;
    } else {
      source.close();
      window.location.reload();
    }
  });
  // The page's own forms change the case too: stop listening once one is sent, so a reload
  // never races the form's own navigation.
  document.addEventListener("submit", () => source.close());
  window.addEventListener("pagehide", () => source.close());
})();
