/* A camera's page: a small map with the camera and its field-of-view wedge (computed on the server). */
(function () {
  "use strict";
  var el = document.getElementById("camera-map");
  if (!el || !window.L) {
    return;
  }
  var at = [parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)];
  var data = document.getElementById("camera-fov");
  var ring = data ? JSON.parse(data.textContent) : null;
  var removed = el.dataset.status === "removed";
  var map = L.map(el, { scrollWheelZoom: false }).setView(at, 18);
  L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: el.dataset.tileAttribution }).addTo(map);
  if (ring) {
    var wedge = L.polygon(ring, {
      color: removed ? "#6b7280" : "#1d4ed8",
      weight: 1,
      fillOpacity: 0.2,
      dashArray: removed ? "4 4" : null,
      interactive: false,
    }).addTo(map);
    map.fitBounds(wedge.getBounds(), { padding: [24, 24], maxZoom: 19 });
  }
  L.circleMarker(at, {
    radius: 7,
    weight: 2,
    color: "#111",
    fillColor: removed ? "#9ca3af" : "#1d4ed8",
    fillOpacity: 0.8,
  }).addTo(map);
})();
