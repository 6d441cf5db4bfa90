// The cockpit's charts: each chart card carries its table, rendered on the
// server; this script draws the same rows with ECharts from the page's
// embedded JSON and adds the chart/table switch. Without it the tables
// remain, so nothing depends on JavaScript but the pictures.
(function () {
  'use strict';
  var root = document.documentElement;
  var holder = document.getElementById('dashboard-data');
  if (!holder || typeof echarts === 'undefined') return;
  var dash;
  try { dash = JSON.parse(holder.textContent); } catch (e) { return; }
  root.classList.add('js');

  var palette = ['#b91c1c', '#d97706', '#1d4ed8', '#047857', '#7c3aed', '#0891b2', '#be185d', '#4d7c0f', '#64748b', '#ea580c'];
  var narrow = function () { return window.matchMedia('(max-width: 600px)').matches; };

  function unitOf(col) {
    if (/\(元\)$/.test(col)) return '元';
    if (/\(%\)$/.test(col)) return '%';
    return '';
  }
  function short(v) {
    var a = Math.abs(v);
    if (a >= 1e8) return (v / 1e8).toFixed(a >= 1e10 ? 0 : 1) + '亿';
    if (a >= 1e4) return (v / 1e4).toFixed(a >= 1e6 ? 0 : 1) + '万';
    return String(Math.round(v * 100) / 100);
  }
  function full(v, unit) {
    var s = typeof v === 'number' ? v.toLocaleString('zh-CN', { maximumFractionDigits: 2 }) : String(v);
    return unit === '%' ? s + '%' : unit ? s + ' ' + unit : s;
  }
  function label(col) { return col.replace(/\((元|%)\)$/, ''); }

  function option(chart, cols, el) {
    var names = chart.rows.map(function (r) { return String(r[0]); });
    var units = cols.map(function (c) { return unitOf(chart.columns[c]); });
    var series = function (c, i, extra) {
      var s = { name: label(chart.columns[c]), data: chart.rows.map(function (r) { return r[c]; }) };
      for (var k in extra) s[k] = extra[k];
      s.tooltip = { valueFormatter: function (v) { return full(v, units[i]); } };
      return s;
    };
    var base = { color: palette, animation: false, textStyle: { fontFamily: 'inherit' }, tooltip: { trigger: 'item', confine: true } };
    if (chart.kind === 'pie') {
      var c = cols[0];
      base.legend = { bottom: 0, type: 'scroll' };
      base.series = [{
        type: 'pie', radius: ['38%', '66%'], center: ['50%', '44%'], name: label(chart.columns[c]),
        label: { formatter: '{b}\n{d}%', fontSize: 11 }, avoidLabelOverlap: true,
        data: chart.rows.map(function (r) { return { name: String(r[0]), value: r[c] }; }),
        tooltip: { valueFormatter: function (v) { return full(v, units[0]); } }
      }];
      return base;
    }
    var twoAxes = units.length > 1 && units[0] !== units[1];
    var valueAxis = function (i) {
      return { type: 'value', name: twoAxes ? label(chart.columns[cols[i]]) : '', axisLabel: { formatter: units[i] === '%' ? '{value}%' : short }, splitLine: { show: i === 0 } };
    };
    base.tooltip.trigger = 'axis';
    base.tooltip.axisPointer = { type: 'shadow' };
    if (cols.length > 1) base.legend = { top: 0 };
    if (chart.kind === 'line') {
      base.grid = { left: 8, right: 8, top: cols.length > 1 ? 48 : 16, bottom: 8, containLabel: true };
      base.xAxis = { type: 'category', data: names, boundaryGap: false };
      base.yAxis = cols.map(function (c, i) { return valueAxis(twoAxes ? i : 0); }).slice(0, twoAxes ? 2 : 1);
      base.series = cols.map(function (c, i) { return series(c, i, { type: 'line', smooth: true, symbolSize: 7, yAxisIndex: twoAxes ? i : 0, areaStyle: i === 0 ? { opacity: 0.08 } : undefined }); });
      return base;
    }
    // Bars lie horizontally: long programme and region names stay
    // readable at phone width, and rankings read top-down.
    var stacked = chart.id === 'rules';
    var rowH = cols.length > 1 && !stacked ? 34 : 26;
    el.style.height = Math.max(260, names.length * rowH + (cols.length > 1 ? 70 : 40)) + 'px';
    base.grid = { left: 8, right: 24, top: cols.length > 1 ? 32 : 8, bottom: 8, containLabel: true };
    base.yAxis = { type: 'category', data: names, inverse: true, axisTick: { show: false },
      axisLabel: { width: narrow() ? 96 : 170, overflow: 'truncate', interval: 0 } };
    base.xAxis = twoAxes ? [valueAxis(0), valueAxis(1)] : valueAxis(0);
    base.series = cols.map(function (c, i) {
      return series(c, i, { type: 'bar', barMaxWidth: 18, stack: stacked ? 'all' : undefined, xAxisIndex: twoAxes ? i : 0 });
    });
    return base;
  }

  var drawn = [];
  var byId = {};
  (dash.charts || []).forEach(function (c) { byId[c.id] = c; });
  document.querySelectorAll('article.chart[data-plot]').forEach(function (card) {
    var chart = byId[card.dataset.chart];
    var el = card.querySelector('.plot');
    if (!chart || !el || !card.dataset.plot || !chart.rows || chart.rows.length === 0) return;
    var cols = card.dataset.plot.split(',').map(Number).filter(function (c) { return c > 0 && c < chart.columns.length; });
    if (cols.length === 0) return;
    card.classList.add('has-plot');
    var ec = echarts.init(el, null, { renderer: 'canvas' });
    ec.setOption(option(chart, cols, el));
    ec.resize();
    drawn.push(ec);
    var links = card.querySelectorAll('a.drill');
    if (links.length) {
      // A click on a region's bar drills into it, as its row's link does.
      ec.on('click', function (p) {
        var a = links[p.dataIndex];
        if (a) window.location.href = a.href;
      });
      el.style.cursor = 'pointer';
    }
    card.querySelectorAll('button.tog').forEach(function (b) {
      b.hidden = false;
      b.addEventListener('click', function () {
        var table = b.dataset.view === 'table';
        card.classList.toggle('show-table', table);
        card.querySelectorAll('button.tog').forEach(function (o) { o.setAttribute('aria-pressed', String(o === b)); });
        if (!table) ec.resize();
      });
    });
  });
  var t;
  window.addEventListener('resize', function () {
    clearTimeout(t);
    t = setTimeout(function () { drawn.forEach(function (ec) { ec.resize(); }); }, 120);
  });
  // When the charts stood, in ms since navigation began: the browser
  // test reads it to report the first render.
  root.dataset.drawnAt = String(Math.round(performance.now()));
  var f = document.getElementById('filters');
  if (f) f.querySelectorAll('select').forEach(function (s) { s.addEventListener('change', function () { f.submit(); }); });
})();
