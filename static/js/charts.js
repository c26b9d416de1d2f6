/*
 * Charts: draws every <div data-chart="ID"> with the plotly figure in <script type="application/json" id="ID">
 * (written by Django's json_script), on load and again inside whatever htmx swaps in. No inline scripts, so a
 * strict Content-Security-Policy (script-src 'self') holds. Plotly itself comes from the Python package
 * (static/vendor/plotly.min.js, served by kam.staticfiles).
 *
 * Each chart sits next to a table with the same numbers, so nothing is lost without JavaScript.
 */
(function () {
  "use strict";

  var CONFIG = {
    displayModeBar: false,
    responsive: true,
    scrollZoom: false,
    locale: "en",
  };

  function draw(container) {
    if (!window.Plotly || container.getAttribute("data-chart-drawn") === "1") {
      return;
    }
    var source = document.getElementById(container.getAttribute("data-chart"));
    if (!source) {
      return;
    }
    var figure;
    try {
      figure = JSON.parse(source.textContent);
    } catch (error) {
      return;
    }
    if (!figure || !figure.data) {
      return;
    }
    container.setAttribute("data-chart-drawn", "1");
    container.classList.add("chart--drawn");
    window.Plotly.newPlot(container, figure.data, figure.layout || {}, CONFIG);
  }

  function drawAll(root) {
    var charts = (root || document).querySelectorAll("[data-chart]");
    for (var i = 0; i < charts.length; i++) {
      draw(charts[i]);
    }
  }

  function purgeAll(root) {
    if (!window.Plotly || !root || !root.querySelectorAll) {
      return;
    }
    var charts = root.querySelectorAll("[data-chart-drawn]");
    for (var i = 0; i < charts.length; i++) {
      window.Plotly.purge(charts[i]);
    }
  }

  drawAll(document);

  // htmx replaces the dashboard body when a filter changes: free the old plots, draw the new ones.
  document.addEventListener("htmx:beforeSwap", function (event) {
    purgeAll(event.detail && event.detail.target);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    drawAll(event.detail && event.detail.target);
  });
})();
