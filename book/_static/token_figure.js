// The book's interactive token figure (llmxai.viz.interactive): no kernel, no network, no library.
// Each .llmxai-token-figure holds its tokens and, as JSON, the attention patterns
// [layer][head][query][key] and per-token relevance. Hovering (or tapping) a token shows,
// for the picked layer and head, how much it attends to each token, or in a relevance
// mode the relevance of every token; each token's number goes into its data-value.
(function () {
  "use strict";

  function option(select, value, label) {
    var o = document.createElement("option");
    o.value = String(value);
    o.textContent = label;
    select.appendChild(o);
  }

  function picker(label, cls) {
    var wrap = document.createElement("label");
    wrap.textContent = label + " ";
    var select = document.createElement("select");
    select.className = cls;
    wrap.appendChild(select);
    return [wrap, select];
  }

  function colour(value, scale) {
    var a = scale > 0 ? Math.min(Math.abs(value) / scale, 1) : 0;
    return value >= 0 ? "rgba(214, 39, 40, " + a.toFixed(3) + ")" : "rgba(31, 119, 180, " + a.toFixed(3) + ")";
  }

  function setup(fig) {
    var data = JSON.parse(fig.querySelector("script.llmxai-data").textContent);
    var tokens = Array.prototype.slice.call(fig.querySelectorAll(".llmxai-token"));
    var readout = fig.querySelector(".llmxai-readout");
    var controls = fig.querySelector(".llmxai-controls");
    var m = picker("show", "llmxai-mode"), l = picker("layer", "llmxai-layer"), h = picker("head", "llmxai-head");
    option(m[1], "attention", "attention from the token");
    Object.keys(data.relevance).forEach(function (k) { option(m[1], "relevance:" + k, "relevance: " + k); });
    data.attention.forEach(function (_, i) { option(l[1], i, String(i)); });
    data.attention[0].forEach(function (_, i) { option(h[1], i, String(i)); });
    l[1].value = String(data.layer);
    h[1].value = String(data.head);
    [m, l, h].forEach(function (p) { controls.appendChild(p[0]); controls.appendChild(document.createTextNode(" ")); });
    var current = null;

    function show(i) {
      current = i;
      var mode = m[1].value;
      var values, scale, text;
      if (mode === "attention") {
        values = data.attention[Number(l[1].value)][Number(h[1].value)][i];
        scale = 1;
        text = "layer " + l[1].value + ", head " + h[1].value + ": attention from \u201c" + data.tokens[i] + "\u201d";
      } else {
        values = data.relevance[mode.slice(10)];
        scale = Math.max.apply(null, values.map(Math.abs));
        text = mode.slice(10) + ": \u201c" + data.tokens[i] + "\u201d has relevance " + values[i].toFixed(3);
      }
      tokens.forEach(function (span, j) {
        span.style.backgroundColor = colour(values[j], scale);
        span.setAttribute("data-value", String(values[j]));
        span.title = values[j].toFixed(4);
        span.classList.toggle("llmxai-active", j === i);
      });
      readout.textContent = text;
      fig.setAttribute("data-shown", mode + "|" + l[1].value + "|" + h[1].value + "|" + i);
    }

    tokens.forEach(function (span, i) {
      span.addEventListener("mouseenter", function () { show(i); });
      span.addEventListener("click", function () { show(i); });
    });
    [m[1], l[1], h[1]].forEach(function (s) {
      s.addEventListener("change", function () { if (current !== null) { show(current); } });
    });
    fig.setAttribute("data-ready", "true");
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll(".llmxai-token-figure"), function (fig) {
      if (!fig.hasAttribute("data-ready")) { setup(fig); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
