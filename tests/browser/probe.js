// Appended to a copy of the HTML view by render_html.cmake: measures what
// the browser actually laid out and writes one line into the DOM.
(function () {
  var maps = document.querySelectorAll('svg.heatmap');
  var visible = 0, cells = 0, drawn = 0;
  maps.forEach(function (m) {
    var r = m.getBoundingClientRect();
    if (r.width >= 20 && r.height >= 16) visible++;
  });
  document.querySelectorAll('svg.heatmap rect').forEach(function (c) {
    cells++;
    var r = c.getBoundingClientRect();
    var fill = getComputedStyle(c).fill;
    if (r.width >= 2 && r.height >= 2 && /^rgb/.test(fill) && fill !== 'rgb(0, 0, 0)') drawn++;
  });
  // Folding: closing a <details> must hide the heatmaps inside it and
  // shrink it to its summary line.
  var p = document.querySelector('details.param');
  var inner = p ? p.querySelector('svg.heatmap') : null;
  var folds = 0;
  if (p && inner) {
    var tall = p.getBoundingClientRect().height, shown = inner.checkVisibility();
    p.open = false;
    var short = p.getBoundingClientRect().height, hidden = !inner.checkVisibility();
    p.open = true;
    folds = shown && hidden && short > 0 && short * 4 < tall ? 1 : 0;
  }
  var out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = 'PROBE heatmaps=' + maps.length + ' visible=' + visible +
      ' cells=' + cells + ' drawn=' + drawn + ' folds=' + folds +
      ' details=' + document.querySelectorAll('details').length + ' END';
  document.body.appendChild(out);
})();
