/*
 * Account page, plan page and My day: feedback for what is edited in place (plan-action status, profile).
 * Everything works without it (and without htmx: the status form then posts and comes back to the page).
 * No inline scripts, so a strict Content-Security-Policy (script-src 'self') holds.
 *
 *   [data-action-row]          an action row; when its status select changes, htmx posts the form and swaps
 *                              in the row the server returns (htmx keeps the focus on the select: same id).
 *   form[data-saved="..."]     set by the server on a returned row whose status was saved: the text is read
 *                              out through the page's #action-status-live region and the row flashes.
 *   .action__error             set on a returned row whose change was refused: read out as well.
 *   [data-inplace="form"]      a card swapped for its edit form (the profile): focus moves to the error
 *                              summary, or else to the first field, so keyboard users can type at once.
 *   [data-inplace="saved"/"view"]  the card back after saving (or Cancel): focus moves to its heading,
 *                              next to the "saved" status line.
 */
(function () {
  "use strict";

  function announce(text) {
    var live = document.getElementById("action-status-live");
    if (!live || !text) {
      return;
    }
    // Clear first so the same message twice in a row is read out again.
    live.textContent = "";
    window.setTimeout(function () {
      live.textContent = text;
    }, 50);
  }

  function focusInPlace(card) {
    var target =
      card.getAttribute("data-inplace") === "form"
        ? card.querySelector(".error-summary") ||
          card.querySelector("textarea:not([disabled]), input:not([type=hidden]):not([disabled]), select")
        : card.querySelector("h2[tabindex]");
    if (target) {
      target.focus({ preventScroll: true });
      card.scrollIntoView({ block: "nearest" });
    }
  }

  // htmx fires htmx:load on every element it has just swapped in (and once on <body> at start).
  document.addEventListener("htmx:load", function (event) {
    var row = event.target;
    if (!(row instanceof Element)) {
      return;
    }
    if (row.matches("[data-inplace]")) {
      focusInPlace(row);
      return;
    }
    if (!row.matches("[data-action-row]")) {
      return;
    }
    var saved = row.querySelector("form[data-saved]");
    var error = row.querySelector(".action__error");
    if (saved) {
      announce("Saved: " + saved.getAttribute("data-saved"));
      row.classList.add("is-just-saved");
      window.setTimeout(function () {
        row.classList.remove("is-just-saved");
      }, 1600);
    } else if (error) {
      announce(error.textContent.trim());
    }
  });
})();
