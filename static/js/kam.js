/*
 * KAM's own JavaScript: small progressive enhancements only. Every page works without it.
 * No inline handlers anywhere: behaviour hangs off data- attributes, so a strict
 * Content-Security-Policy (script-src 'self') holds.
 *
 *   data-dismiss              on a button inside .alert: removes the alert
 *   data-confirm="question"   on a <form>: asks before submitting
 *   data-open-details="id"    on a link: opens the <details id="..."> on this page instead of navigating
 *   data-results-summary      inside an htmx-swapped region: its text is announced in #results-status
 *   data-focus-on-load        on an htmx target: its first field takes the focus once the content arrives
 *   data-load-failed="text"   on an htmx target: what it says when the request fails (instead of waiting on)
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function focusFirstField(container) {
    var field = container.querySelector(
      "input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])"
    );
    if (field) {
      field.focus({ preventScroll: true });
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) {
      return;
    }

    var dismiss = target.closest("[data-dismiss]");
    if (dismiss) {
      var alert = dismiss.closest(".alert");
      if (alert) {
        var list = alert.closest(".messages");
        alert.parentNode.removeChild(alert);
        if (list && !list.querySelector(".alert")) {
          list.parentNode.removeChild(list);
        }
        var main = document.getElementById("content");
        if (main) {
          main.focus({ preventScroll: true });
        }
      }
      return;
    }

    var opener = target.closest("[data-open-details]");
    if (opener) {
      var details = document.getElementById(opener.getAttribute("data-open-details"));
      if (details && details.tagName === "DETAILS") {
        event.preventDefault();
        details.open = true;
        details.scrollIntoView({ block: "start", behavior: "smooth" });
        focusFirstField(details);
      }
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form instanceof HTMLFormElement ? form.getAttribute("data-confirm") : null;
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // After htmx swaps the account list, tell screen-reader users how many results there are now.
  document.addEventListener("htmx:afterSwap", function (event) {
    var status = document.getElementById("results-status");
    var region = event.detail && event.detail.target;
    if (!status || !region || !region.querySelector) {
      return;
    }
    var summary = region.querySelector("[data-results-summary]");
    if (summary) {
      status.textContent = summary.textContent.replace(/\s+/g, " ").trim();
    }
  });

  // A form fetched on demand (the account page's quick log): the field the user came for has the focus.
  document.addEventListener("htmx:afterSwap", function (event) {
    var region = event.detail && event.detail.target;
    if (region && region.hasAttribute && region.hasAttribute("data-focus-on-load")) {
      focusFirstField(region);
    }
  });

  // A fragment that could not be fetched says so, rather than "Opening..." for ever.
  function loadFailed(event) {
    var region = event.detail && event.detail.target;
    var text = region && region.getAttribute && region.getAttribute("data-load-failed");
    if (text) {
      var note = document.createElement("p");
      note.className = "field__errors";
      note.setAttribute("role", "alert");
      note.textContent = text;
      region.replaceChildren(note);
    }
  }
  document.addEventListener("htmx:responseError", loadFailed);
  document.addEventListener("htmx:sendError", loadFailed);

  // Focus the error summary of a form that came back with errors, so it is read out first.
  var summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }
})();
