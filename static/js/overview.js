/* Overview map: the most recently seen cameras as small circles coloured by status. */
(function () {
  "use strict";
  var el = document.getElementById("overview-map");
  var data = document.getElementById("map-points");
  if (!el || !data || !window.L) { return; }
  var points = JSON.parse(data.textContent);
  var colours = { reported: "#d97706", verified: "#15803d", disputed: "#b91c1c" };
  var map = L.map(el, { preferCanvas: true });
  L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: el.dataset.tileAttribution }).addTo(map);
  var layer = L.featureGroup();
  points.forEach(function (p) {
    L.circleMarker([p[0], p[1]], { radius: 4, weight: 1, color: "#111", fillColor: colours[p[2]] || "#555", fillOpacity: 0.85 })
      .bindTooltip(p[2]).addTo(layer);
  });
  layer.addTo(map);
  if (points.length) { map.fitBounds(layer.getBounds(), { padding: [20, 20] }); } else { map.setView([20, 0], 2); }
})();
