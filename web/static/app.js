// Progressive enhancement only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const error = document.getElementById("form-error");
  if (error) {
    const invalid = document.querySelector('[aria-invalid="true"]');
    (invalid || error).focus?.();
  }
});
