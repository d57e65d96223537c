/* Verification queue: a small map per camera, and "nearest to me" from the browser's position. */
(function () {
  "use strict";
  if (window.L) {
    document.querySelectorAll(".small-map").forEach(function (el) {
      var at = [parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)];
      var map = L.map(el, { scrollWheelZoom: false }).setView(at, 18);
      L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: el.dataset.tileAttribution }).addTo(map);
      L.circleMarker(at, { radius: 7, weight: 2, color: "#111", fillColor: "#1d4ed8", fillOpacity: 0.8 }).addTo(map);
    });
  }
  var near = document.getElementById("verify-near-me");
  if (near && navigator.geolocation) {
    near.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (pos) {
        document.getElementById("near-lat").value = pos.coords.latitude.toFixed(5);
        document.getElementById("near-lon").value = pos.coords.longitude.toFixed(5);
        near.form.submit();
      });
    });
  } else if (near) {
    near.hidden = true;
  }
})();
