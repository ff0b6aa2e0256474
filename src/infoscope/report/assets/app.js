/* infoscope interactive views: information plane with an epoch slider, MI against epoch with
 * accuracy and loss, per-unit heat maps; drawn with Plotly from the payload that
 * infoscope.report.payload writes (embedded in the report, or fetched from `infoscope serve`).
 * All information values are in bits. No network: Plotly is embedded in the same page. */
(function () {
  "use strict";
  var SYMBOLS = ["circle", "square", "diamond", "triangle-up", "triangle-down", "pentagon", "hexagon", "star", "hourglass", "bowtie"];
  var COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  var UNIT_NAMES = {"I(T;Y)": "I(unit;Y)", "I(X;T)": "I(X;unit)", "H(T)": "H(unit)"};
  var LONG = 150;  // points in a series beyond which lines are drawn without markers
  var MAX_DRAWN = 500;  // records drawn per series at most: every k-th, the last and the slider's (as TensorBoard samples scalars)
  var GL_POINTS = 4000;  // points in a plane beyond which it is drawn with WebGL
  var CONFIG = {displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"]};

  // Plotly reads the text of hovers, legends and annotations as a little HTML: a name a user
  // gave (a run, a layer, a metric) is shown as the text it is.
  function esc(s) { return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { e.appendChild(c); });
    return e;
  }
  function fmt(v, d) { return v === null || v === undefined ? "—" : Number(v).toFixed(d === undefined ? 4 : d); }
  function sig(v) { return v === null || v === undefined ? "—" : String(Number(Number(v).toPrecision(4))); }
  function epochText(rec) { return rec.x === rec.epoch ? "epoch " + rec.epoch : "epoch " + fmt(rec.x, 2) + " (epoch " + rec.epoch + ", step " + rec.step + ")"; }
  function rgba(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }

  function View(root, data) {
    this.root = root;
    this.state = {probe: null, estimators: null, record: null, unitLayer: null, unitQuantity: "I(T;Y)", sort: "final", playing: null};
    this.build();
    this.update(data);
  }

  View.prototype.build = function () {
    var self = this;
    this.controls = el("div", {"class": "controls main"});
    this.estBox = el("span", {"class": "estimators"});
    this.probeSel = el("select", {"class": "probe", "aria-label": "probe"});
    this.play = el("button", {"class": "play", type: "button", title: "play the epochs", text: "▶ play"});
    this.slider = el("input", {"class": "epoch", type: "range", min: "0", max: "0", value: "0", step: "1", "aria-label": "epoch"});
    this.epochLabel = el("span", {"class": "epoch-label"});
    this.controls.appendChild(el("label", {text: "Estimators: "}, [this.estBox]));
    this.controls.appendChild(el("label", {text: " Probe (plane, units): "}, [this.probeSel]));
    this.controls.appendChild(el("span", {"class": "slider"}, [this.play, this.slider, this.epochLabel]));
    this.plane = el("div", {"class": "plot plane"});
    this.curves = el("div", {"class": "plot curves"});
    this.unitLayerSel = el("select", {"class": "unit-layer", "aria-label": "layer"});
    this.unitQuantitySel = el("select", {"class": "unit-quantity", "aria-label": "quantity"});
    this.sortSel = el("select", {"class": "unit-sort", "aria-label": "sort"});
    [["final", "sorted by final I(unit;Y)"], ["layer", "in layer order"]].forEach(function (o) {
      self.sortSel.appendChild(el("option", {value: o[0], text: o[1]}));
    });
    this.unitControls = el("div", {"class": "controls"}, [
      el("label", {text: "Layer: "}, [this.unitLayerSel]), el("label", {text: " Quantity: "}, [this.unitQuantitySel]),
      el("label", {text: " Units: "}, [this.sortSel])]);
    this.units = el("div", {"class": "plot units"});
    this.unitNote = el("p", {"class": "muted"});
    var note = el("p", {"class": "muted", text: "Markers: colour = epoch; × = at or past a bound (log2 n, H(X), H(Y), 0; past one, an estimation error: the value cannot show change beyond it), " +
      "hollow = I(T;Y) within the chance band of permuted labels. " +
      "Shaded: bootstrap band (coloured) and chance band (grey). Drag to zoom, double-click to reset; click a legend entry to hide a layer."});
    [this.controls, el("h3", {text: "Information plane"}), this.plane, el("h3", {text: "Information against epoch, with accuracy and loss"}),
     this.curves, el("h3", {text: "Per-unit information"}), this.unitControls, this.units, this.unitNote, note]
      .forEach(function (c) { self.root.appendChild(c); });
    this.slider.addEventListener("input", function () { self.setRecord(+self.slider.value); });
    this.probeSel.addEventListener("change", function () { self.state.probe = self.probeSel.value; self.drawAll(); });
    this.play.addEventListener("click", function () { self.togglePlay(); });
    this.unitLayerSel.addEventListener("change", function () { self.state.unitLayer = self.unitLayerSel.value; self.drawUnits(); });
    this.unitQuantitySel.addEventListener("change", function () { self.state.unitQuantity = self.unitQuantitySel.value; self.drawUnits(); });
    this.sortSel.addEventListener("change", function () { self.state.sort = self.sortSel.value; self.drawUnits(); });
  };

  View.prototype.update = function (data) {
    var self = this, st = this.state, last = Math.max(0, data.records.length - 1);
    var atEnd = this.data === undefined || st.record === null || st.record >= this.data.records.length - 1;
    this.data = data;
    this.layerPos = {};
    data.layers.forEach(function (l, i) { self.layerPos[l.name] = i; });
    if (st.estimators === null) st.estimators = data.estimators.slice();
    data.estimators.forEach(function (e) { if (!self.seen(e) && st.estimators.indexOf(e) < 0) st.estimators.push(e); });
    this.estBox.textContent = "";
    data.estimators.forEach(function (e) {
      var box = el("input", {type: "checkbox", value: e, "class": "estimator"});
      box.checked = st.estimators.indexOf(e) >= 0;
      box.addEventListener("change", function () {
        st.estimators = Array.prototype.filter.call(self.estBox.querySelectorAll("input"), function (b) { return b.checked; })
          .map(function (b) { return b.value; });
        self.drawAll();
      });
      self.estBox.appendChild(el("label", {"class": "toggle"}, [box, document.createTextNode(" " + e + " ")]));
    });
    this.seenEstimators = data.estimators.slice();
    if (st.probe === null || data.probes.indexOf(st.probe) < 0) st.probe = data.probes.indexOf("train") >= 0 ? "train" : data.probes[0];
    this.fillSelect(this.probeSel, data.probes.map(function (p) { return [p, p]; }), st.probe);
    this.stride = Math.max(1, Math.ceil(data.records.length / MAX_DRAWN));
    this.slider.max = String(last);
    st.record = atEnd ? last : Math.min(st.record, last);
    this.slider.value = String(st.record);
    this.drawAll();
  };

  // whether record r is drawn: every stride-th, the last and the slider's (all are in the tables and exports)
  View.prototype.drawn = function (r) {
    return r % this.stride === 0 || r === this.data.records.length - 1 || r === this.state.record;
  };

  View.prototype.seen = function (e) { return (this.seenEstimators || []).indexOf(e) >= 0; };

  View.prototype.fillSelect = function (sel, options, value) {
    sel.textContent = "";
    options.forEach(function (o) { sel.appendChild(el("option", {value: o[0], text: o[1]})); });
    if (value !== null && value !== undefined) sel.value = value;
  };

  View.prototype.visibleEstimators = function () {
    var st = this.state;
    return this.data.estimators.filter(function (e) { return st.estimators.indexOf(e) >= 0; });
  };

  View.prototype.setRecord = function (i) {
    this.state.record = i;
    this.slider.value = String(i);
    this.drawPlane();
    this.markEpoch();
  };

  View.prototype.togglePlay = function () {
    var self = this, st = this.state;
    if (st.playing) { clearInterval(st.playing); st.playing = null; this.play.textContent = "▶ play"; return; }
    if (st.record >= this.data.records.length - 1) this.setRecord(0);
    this.play.textContent = "❚❚ pause";
    st.playing = setInterval(function () {  // about 200 frames for a whole run, however many records it has
      var last = self.data.records.length - 1;
      if (st.record >= last) { self.togglePlay(); return; }
      self.setRecord(Math.min(last, st.record + Math.max(1, Math.ceil(last / 200))));
    }, 150);
  };

  View.prototype.drawAll = function () {
    var self = this;
    this.timings = {};  // milliseconds each view took to draw, for benchmarks.report
    ["drawPlane", "drawCurves", "drawUnits"].forEach(function (f) {
      var t = performance.now();
      self[f]();
      self.timings[f] = performance.now() - t;
    });
  };

  View.prototype.series = function (probe, est, quantity) {
    return this.data.series.filter(function (s) {
      return (probe === null || s.probe === probe) && s.estimator === est && s.quantity === quantity;
    });
  };

  // a series with only its drawn records (every list indexed by record kept in step)
  View.prototype.thin = function (s) {
    if (this.stride === 1) return s;
    var self = this, keep = [], out = {};
    s.r.forEach(function (r, k) { if (self.drawn(r)) keep.push(k); });
    Object.keys(s).forEach(function (key) {
      out[key] = Array.isArray(s[key]) ? keep.map(function (k) { return s[key][k]; }) : s[key];
    });
    return out;
  };

  View.prototype.layerLabel = function (name) {
    var l = this.data.layers[this.layerPos[name]];
    return l ? l.label : name;
  };

  View.prototype.bandText = function (s, k) {
    var parts = [];
    if (s.lo[k] !== null) parts.push("bootstrap band [" + fmt(s.lo[k], 3) + ", " + fmt(s.hi[k], 3) + "]");
    if (s.chi[k] !== null) parts.push("chance band [" + fmt(s.clo[k], 3) + ", " + fmt(s.chi[k], 3) + "]");
    return parts.length ? parts.join("<br>") : "no band recorded";
  };

  View.prototype.flagText = function (s, k) {
    var parts = [];
    if (s.sat[k]) parts.push(s.sat[k]);
    if (s.chance[k] === false) parts.push("indistinguishable from chance");
    return parts.join("; ");
  };

  View.prototype.drawPlane = function () {
    var self = this, d = this.data, st = this.state, ests = this.visibleEstimators();
    var recs = d.records, upto = recs.length ? recs[st.record].x : 0;
    var xmax = recs.length ? recs[recs.length - 1].x : 1;
    var total = 0;
    d.series.forEach(function (s) { if (s.quantity === "I(X;T)" && s.probe === st.probe) total += s.r.length; });
    var kind = total / this.stride > GL_POINTS ? "scattergl" : "scatter";
    var traces = [], layout = {height: 460, margin: {t: 40, r: 20, b: 50, l: 60}, hovermode: "closest",
      legend: {orientation: "h", y: -0.18}, annotations: []};
    ests.forEach(function (est, e) {
      var ax = e === 0 ? "" : String(e + 1), w = 1 / ests.length;
      layout["xaxis" + ax] = {domain: [e * w + (e ? 0.04 : 0), (e + 1) * w - 0.04], title: {text: "I(X;T) (bits)"}, anchor: "y" + ax};
      layout["yaxis" + ax] = {domain: [0, 1], title: {text: e === 0 ? "I(T;Y) (bits)" : ""}, anchor: "x" + ax};
      layout.annotations.push({text: "<b>" + esc(est) + "</b> — " + esc(st.probe) + " probe", xref: "x" + ax + " domain", yref: "paper",
        x: 0.5, y: 1.07, showarrow: false});
      var xs = self.series(st.probe, est, "I(X;T)"), ys = self.series(st.probe, est, "I(T;Y)");
      xs.forEach(function (sx) {
        var sy = ys.filter(function (s) { return s.layer === sx.layer; })[0];
        if (!sy) return;
        var yat = {};
        sy.r.forEach(function (r, k) { yat[r] = k; });
        var pt = {x: [], y: [], c: [], sym: [], size: [], cd: []}, pos = self.layerPos[sx.layer] || 0;
        sx.r.forEach(function (r, k) {
          var j = yat[r];
          if (j === undefined || recs[r].x > upto || sx.v[k] === null || sy.v[j] === null || !self.drawn(r)) return;
          var sym = SYMBOLS[pos % SYMBOLS.length];
          if (sx.sat[k] || sy.sat[j]) sym = "x";
          else if (sy.chance[j] === false) sym += "-open";
          pt.x.push(sx.v[k]); pt.y.push(sy.v[j]); pt.c.push(recs[r].x); pt.sym.push(sym); pt.size.push(8);
          var res = sx.res[k] === null ? "" : d.resolution[est] + " = " + sig(sx.res[k]);
          var flags = [self.flagText(sx, k), self.flagText(sy, j)].filter(function (f) { return f; }).join("; ");
          pt.cd.push([epochText(recs[r]), res, "I(X;T): " + self.bandText(sx, k) + "<br>I(T;Y): " + self.bandText(sy, j), flags]);
        });
        if (pt.size.length) pt.size[pt.size.length - 1] = 14;
        traces.push({
          type: kind, mode: "lines+markers", name: esc(self.layerLabel(sx.layer)), legendgroup: sx.layer, showlegend: e === 0,
          x: pt.x, y: pt.y, customdata: pt.cd, xaxis: "x" + ax, yaxis: "y" + ax,
          line: {color: "rgba(120,120,120,0.55)", width: 1},
          marker: {color: pt.c, cmin: 0, cmax: Math.max(xmax, 1), colorscale: "Viridis", symbol: pt.sym, size: pt.size,
                   line: {width: 1, color: "#333"}, showscale: traces.length === 0,
                   colorbar: {title: {text: "epoch"}, thickness: 12, len: 0.8}},
          hovertemplate: "<b>" + esc(self.layerLabel(sx.layer)) + "</b> (" + esc(est) + ")<br>%{customdata[0]}<br>I(X;T) = %{x:.4f} bits" +
            "<br>I(T;Y) = %{y:.4f} bits<br>%{customdata[1]}<br>%{customdata[2]}<br>%{customdata[3]}<extra></extra>"
        });
      });
    });
    if (!traces.length) layout.annotations.push({text: "no I(X;T) and I(T;Y) recorded for these choices", showarrow: false,
      xref: "paper", yref: "paper", x: 0.5, y: 0.5});
    Plotly.react(this.plane, traces, layout, CONFIG);
    var rec = recs[st.record];
    this.epochLabel.textContent = rec ? epochText(rec) + " of " + d.records[d.records.length - 1].epoch +
      (this.stride > 1 ? " (drawn: 1 in " + this.stride + " of " + recs.length + " records, the chosen one always)" : "") : "nothing recorded yet";
    this.root.dataset.record = String(st.record);
    this.root.dataset.epoch = rec ? String(rec.epoch) : "";
    this.root.dataset.points = String(traces.reduce(function (n, t) { return n + t.x.length; }, 0));
  };

  View.prototype.drawCurves = function () {
    var self = this, d = this.data, ests = this.visibleEstimators(), recs = d.records;
    var quantities = ["I(X;T)", "I(T;Y)"], traces = [], nq = quantities.length, E = Math.max(ests.length, 1);
    var metricNames = Object.keys(d.metrics), hasMetrics = metricNames.length > 0;
    var rows = nq + (hasMetrics ? 1 : 0), rowH = 1 / rows;
    var layout = {height: 250 * rows, margin: {t: 30, r: 60, b: 40, l: 60}, hovermode: "closest", legend: {orientation: "h", y: -0.08},
      annotations: [], shapes: []};
    var shown = {};
    quantities.forEach(function (q, qi) {
      ests.forEach(function (est, e) {
        var k = qi * E + e + 1, ax = k === 1 ? "" : String(k), w = 1 / E;
        var y0 = 1 - (qi + 1) * rowH + 0.04, y1 = 1 - qi * rowH - 0.02;
        layout["xaxis" + ax] = {domain: [e * w + (e ? 0.05 : 0), (e + 1) * w - 0.03], anchor: "y" + ax, matches: k === 1 ? undefined : "x",
          title: {text: qi === nq - 1 && !hasMetrics ? "epoch" : ""}};
        layout["yaxis" + ax] = {domain: [y0, y1], anchor: "x" + ax, title: {text: q + " (bits)"}};
        layout.annotations.push({text: "<b>" + q + "</b> — " + esc(est), xref: "x" + ax + " domain", yref: "y" + ax + " domain", x: 0.02, y: 1.0,
          showarrow: false, xanchor: "left"});
        self.series(null, est, q).forEach(function (whole) {
          var s = self.thin(whole);
          var pos = self.layerPos[s.layer] || 0, color = COLORS[pos % COLORS.length], dash = s.probe === "train" ? "solid" : "dash";
          var x = s.r.map(function (r) { return recs[r].x; });
          var bands = [["lo", "hi", rgba(color, 0.18)], ["clo", "chi", "rgba(120,120,120,0.12)"]];
          bands.forEach(function (b) {
            if (!s[b[0]].some(function (v) { return v !== null; })) return;
            traces.push({type: "scatter", mode: "lines", x: x, y: s[b[1]], line: {width: 0}, hoverinfo: "skip", showlegend: false,
              legendgroup: s.layer, xaxis: "x" + ax, yaxis: "y" + ax});
            traces.push({type: "scatter", mode: "lines", x: x, y: s[b[0]], line: {width: 0}, fill: "tonexty", fillcolor: b[2],
              hoverinfo: "skip", showlegend: false, legendgroup: s.layer, xaxis: "x" + ax, yaxis: "y" + ax});
          });
          var key = s.layer + "|" + s.probe, long = s.v.length > LONG;
          // flagged values get their own markers, so that long series can be drawn as plain lines
          var flagged = s.v.map(function (v, k2) { return k2; }).filter(function (k2) { return s.sat[k2] || s.chance[k2] === false; });
          if (flagged.length) traces.push({type: "scatter", mode: "markers", hoverinfo: "skip", showlegend: false,
            legendgroup: s.layer, xaxis: "x" + ax, yaxis: "y" + ax, x: flagged.map(function (k2) { return x[k2]; }),
            y: flagged.map(function (k2) { return s.v[k2]; }),
            marker: {color: color, size: 8, symbol: flagged.map(function (k2) { return s.sat[k2] ? "x" : "circle-open"; })}});
          traces.push({type: "scatter", mode: long ? "lines" : "lines+markers", x: x, y: s.v, name: esc(self.layerLabel(s.layer) + " · " + s.probe),
            legendgroup: s.layer, showlegend: !shown[key], line: {color: color, dash: dash, width: 1.6},
            marker: {color: color, size: 4}, xaxis: "x" + ax, yaxis: "y" + ax,
            customdata: s.r.map(function (r, k2) {
              return [epochText(recs[r]), s.res[k2] === null ? "" : d.resolution[est] + " = " + sig(s.res[k2]), self.bandText(s, k2), self.flagText(s, k2)];
            }),
            hovertemplate: "<b>" + esc(self.layerLabel(s.layer)) + "</b> · " + esc(s.probe) + " · " + esc(est) + "<br>%{customdata[0]}<br>" + q +
              " = %{y:.4f} bits<br>%{customdata[1]}<br>%{customdata[2]}<br>%{customdata[3]}<extra></extra>"});
          shown[key] = true;
        });
      });
    });
    if (hasMetrics) {
      var k = nq * E + 1, ax = String(k), ax2 = String(k + 1), y0 = 0, y1 = rowH - 0.06;
      layout["xaxis" + ax] = {domain: [0, 1], anchor: "y" + ax, matches: "x", title: {text: "epoch"}};
      layout["yaxis" + ax] = {domain: [y0, y1], anchor: "x" + ax, title: {text: "accuracy"}, rangemode: "tozero"};
      layout["yaxis" + ax2] = {overlaying: "y" + ax, side: "right", anchor: "x" + ax, title: {text: "loss"}, showgrid: false};
      metricNames.forEach(function (name, i) {
        var m = self.thin(d.metrics[name]), isLoss = /loss/i.test(name);
        traces.push({type: "scatter", mode: m.v.length > LONG ? "lines" : "lines+markers", name: esc(name), x: m.r.map(function (r) { return recs[r].x; }), y: m.v,
          xaxis: "x" + ax, yaxis: "y" + (isLoss ? ax2 : ax), marker: {size: 4},
          line: {dash: /test|val/i.test(name) ? "dash" : "solid", color: isLoss ? "#b22222" : "#2e8b57", width: 1.6},
          hovertemplate: esc(name) + " = %{y:.4f}<br>epoch %{x}<extra></extra>"});
      });
    }
    if (!ests.length) layout.annotations.push({text: "no estimator chosen", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5});
    this.curveAxes = Object.keys(layout).filter(function (key) { return /^xaxis/.test(key); }).map(function (key) { return key.replace("axis", ""); });
    layout.shapes = this.epochShapes();
    Plotly.react(this.curves, traces, layout, CONFIG);
  };

  View.prototype.epochShapes = function () {
    var rec = this.data.records[this.state.record];
    if (!rec) return [];
    return (this.curveAxes || []).map(function (x) {
      return {type: "line", xref: x, yref: x.replace("x", "y") + " domain", x0: rec.x, x1: rec.x, y0: 0, y1: 1,
              line: {color: "rgba(200,0,0,0.5)", width: 1, dash: "dot"}};
    });
  };

  View.prototype.markEpoch = function () {
    if (this.curves.layout) Plotly.relayout(this.curves, {shapes: this.epochShapes()});
    if (this.units.layout && this.unitShape) {
      var rec = this.data.records[this.state.record];
      if (rec) Plotly.relayout(this.units, {shapes: [Object.assign({}, this.unitShape, {x0: rec.x, x1: rec.x})]});
    }
  };

  View.prototype.drawUnits = function () {
    var self = this, d = this.data, st = this.state, recs = d.records, ests = this.visibleEstimators();
    // the first chosen estimator with per-unit values for this probe
    var est = ests.filter(function (e) { return d.units.some(function (u) { return u.probe === st.probe && u.estimator === e; }); })[0] || ests[0];
    var all = d.units.filter(function (u) { return u.probe === st.probe && u.estimator === est; });
    var layers = d.layers.filter(function (l) { return all.some(function (u) { return u.layer === l.name; }); });
    this.fillSelect(this.unitLayerSel, layers.map(function (l) { return [l.name, l.label]; }), null);
    if (!layers.some(function (l) { return l.name === st.unitLayer; })) st.unitLayer = layers.length ? layers[0].name : null;
    if (st.unitLayer !== null) this.unitLayerSel.value = st.unitLayer;
    var quantities = ["I(T;Y)", "I(X;T)", "H(T)"].filter(function (q) { return all.some(function (u) { return u.quantity === q; }); });
    this.fillSelect(this.unitQuantitySel, quantities.map(function (q) { return [q, UNIT_NAMES[q]]; }), null);
    if (quantities.indexOf(st.unitQuantity) < 0) st.unitQuantity = quantities[0] || "I(T;Y)";
    this.unitQuantitySel.value = st.unitQuantity;
    var u = all.filter(function (s) { return s.layer === st.unitLayer && s.quantity === st.unitQuantity; })[0];
    if (!u) {
      this.unitNote.textContent = est === undefined ? "No estimator chosen." :
        "No per-unit values for the " + st.probe + " probe and " + est + " (record with units=True).";
      Plotly.react(this.units, [], {height: 80, xaxis: {visible: false}, yaxis: {visible: false}}, CONFIG);
      this.unitShape = null;
      return;
    }
    var n = u.v.length ? u.v[0].length : 0, order = [];
    for (var i = 0; i < n; i++) order.push(i);
    var sortNote = "layer order";
    if (st.sort === "final") {
      var ref = all.filter(function (s) { return s.layer === st.unitLayer && s.quantity === "I(T;Y)"; })[0] || u;
      var final = ref.v[ref.v.length - 1] || [];
      order.sort(function (a, b) { return (final[b] === null ? -Infinity : final[b]) - (final[a] === null ? -Infinity : final[a]); });
      sortNote = "sorted by final I(unit;Y), most informative on top";
    }
    var cols = u.r.map(function (r, j) { return j; }).filter(function (j) { return self.drawn(u.r[j]); });
    var x = cols.map(function (j) { return recs[u.r[j]].x; });
    var z = order.map(function (i) { return cols.map(function (j) { return u.v[j][i]; }); });
    var flagged = {};
    u.sat.forEach(function (p) { flagged[p[0] + ":" + p[1]] = true; });
    var cd = order.map(function (i) { return cols.map(function (j) { return [epochText(recs[u.r[j]]), flagged[j + ":" + i] ? "at a bound or at chance" : ""]; }); });
    var names = order.map(function (i) { return "unit " + i; });
    var traces = [{type: "heatmap", x: x, y: names, z: z, customdata: cd, colorscale: "Viridis", xgap: 0, ygap: 0,
      colorbar: {title: {text: UNIT_NAMES[st.unitQuantity] + " (bits)"}, thickness: 12},
      hovertemplate: "<b>%{y}</b><br>%{customdata[0]}<br>" + UNIT_NAMES[st.unitQuantity] + " = %{z:.4f} bits<br>%{customdata[1]}<extra></extra>"}];
    var sx = [], sy = [];
    u.sat.forEach(function (p) { sx.push(recs[u.r[p[0]]].x); sy.push("unit " + p[1]); });
    if (sx.length) traces.push({type: "scatter", mode: "markers", x: sx, y: sy, name: "saturated", hoverinfo: "skip",
      marker: {symbol: "x", size: 9, color: "#fff", line: {width: 1, color: "#000"}}});  // seen on dark and light cells
    this.unitShape = {type: "line", xref: "x", yref: "y domain", y0: 0, y1: 1, line: {color: "rgba(255,60,60,0.8)", width: 1, dash: "dot"}};
    var rec = recs[st.record];
    var layout = {height: Math.min(900, 140 + Math.max(n, 4) * 9), margin: {t: 20, r: 20, b: 50, l: 80}, hovermode: "closest",
      xaxis: {title: {text: "epoch"}}, yaxis: {autorange: "reversed", type: "category", automargin: true}, showlegend: false,
      shapes: rec ? [Object.assign({}, this.unitShape, {x0: rec.x, x1: rec.x})] : []};
    Plotly.react(this.units, traces, layout, CONFIG);
    this.unitNote.textContent = UNIT_NAMES[st.unitQuantity] + " of " + n + " units of " + this.layerLabel(st.unitLayer) + " (" + est + ", " +
      st.probe + " probe), " + sortNote + (sx.length ? "; × marks " + sx.length + " values at a bound or at chance" : "") + ".";
  };

  function live(view, section, cfg) {
    // the page came with the values of cfg.revision: poll for a newer one, then fetch the values
    // (views first) and the tables
    var status = section.querySelector(".live-status"), revision = cfg.revision, busy = false, tablesBusy = false, tablesAgain = false;
    function say(text) { if (status) status.textContent = text; }
    function describe(data) {
      var recs = data.records;
      return "live · " + data.status + " · " + (recs.length ? "last record " + epochText(recs[recs.length - 1]) : "nothing recorded yet") +
        " · checked " + new Date().toLocaleTimeString();
    }
    function tables() {
      // a new revision while the tables are on their way: fetch them again when they land, so
      // the last revision's tables are never skipped
      if (tablesBusy) { tablesAgain = true; return; }
      tablesBusy = true;
      tablesAgain = false;
      fetch(cfg.api + "/tables", {cache: "no-store"}).then(function (r) { return r.text(); }).then(function (text) {
        var holder = section.querySelector(".tables");
        if (holder) holder.innerHTML = text;
      }).catch(function () { return null; }).then(function () {
        tablesBusy = false;
        if (tablesAgain) tables();
      });
    }
    function tick() {
      if (busy) return;
      busy = true;
      fetch(cfg.api + "/revision", {cache: "no-store"}).then(function (r) { return r.text(); }).then(function (rev) {
        if (rev === revision) return null;
        return fetch(cfg.api, {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (data) {
          revision = rev;
          view.update(data);
          tables();
          say(describe(data));
        });
      }).catch(function (err) { say("live · server not reachable (" + err + ")"); })
        .then(function () { busy = false; });
    }
    say(describe(view.data));
    setInterval(tick, cfg.every || 1000);
  }

  function start() {
    var store = document.getElementById("infoscope-data"), runs = JSON.parse(store.textContent), views = {};
    document.querySelectorAll("section.run").forEach(function (section) {
      var name = section.dataset.run, holder = section.querySelector(".views");
      views[name] = new View(holder, runs[name]);
      if (window.INFOSCOPE_LIVE) live(views[name], section, window.INFOSCOPE_LIVE);
    });
    window.infoscope = {views: views};
    document.body.dataset.ready = "1";
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
