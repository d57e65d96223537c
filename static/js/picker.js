/* CameraWatch sighting form: map picker, "use my location", address search, photo position.
 * Our own code. Leaflet and exifr are served from our origin (static/vendor, installed from npm).
 * Every position written to the form is rounded to 7 decimals (about 1 cm). */
(function () {
  "use strict";
  var el = document.getElementById("picker-map");
  if (!el || !window.L) { return; }
  var latInput = document.getElementById("id_lat");
  var lonInput = document.getElementById("id_lon");
  var accInput = document.getElementById("id_accuracy_m");
  var status = document.getElementById("search-status");
  var results = document.getElementById("search-results");

  var map = L.map(el).setView([parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)], parseInt(el.dataset.zoom, 10));
  L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: el.dataset.tileAttribution }).addTo(map);
  var marker = null;

  function round7(x) { return Math.round(x * 1e7) / 1e7; }

  function place(lat, lon, opts) {
    opts = opts || {};
    var latlng = L.latLng(lat, lon).wrap();
    latInput.value = round7(latlng.lat);
    lonInput.value = round7(latlng.lng);
    if (opts.accuracy !== undefined && accInput) { accInput.value = Math.round(opts.accuracy * 10) / 10; }
    if (!marker) {
      marker = L.marker(latlng, { draggable: true, title: "Camera position", keyboard: true }).addTo(map);
      marker.on("dragend", function () {
        var p = marker.getLatLng().wrap();
        latInput.value = round7(p.lat);
        lonInput.value = round7(p.lng);
      });
    } else {
      marker.setLatLng(latlng);
    }
    if (opts.pan) { map.setView(latlng, Math.max(map.getZoom(), 17)); }
  }

  map.on("click", function (e) { place(e.latlng.lat, e.latlng.lng); });

  function fromInputs() {
    var lat = parseFloat(latInput.value), lon = parseFloat(lonInput.value);
    if (isFinite(lat) && isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) { place(lat, lon, { pan: true }); }
  }
  latInput.addEventListener("change", fromInputs);
  lonInput.addEventListener("change", fromInputs);
  if (latInput.value && lonInput.value) { fromInputs(); }

  /* Use my location */
  var locate = document.getElementById("use-my-location");
  locate.addEventListener("click", function () {
    if (!navigator.geolocation) { status.textContent = "Your browser cannot share its location."; return; }
    status.textContent = "Finding your location…";
    navigator.geolocation.getCurrentPosition(function (pos) {
      place(pos.coords.latitude, pos.coords.longitude, { pan: true, accuracy: pos.coords.accuracy });
      status.textContent = "Placed at your location (± " + Math.round(pos.coords.accuracy) + " m). Drag the pin onto the camera.";
    }, function () {
      status.textContent = "Could not get your location. Click the map instead.";
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
  });

  /* Address search through our server (which asks Nominatim, cached and rate limited). */
  var searchInput = document.getElementById("address-search");
  function search() {
    var q = searchInput.value.trim();
    results.innerHTML = "";
    if (!q) { return; }
    status.textContent = "Searching…";
    fetch(el.dataset.geocodeUrl + "?q=" + encodeURIComponent(q), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (!res.ok) { status.textContent = res.body.error || "Search unavailable. You can still place the camera on the map."; return; }
        var found = res.body.results || [];
        status.textContent = found.length ? "Pick a result:" : "No matches. Try another address, or click the map.";
        found.forEach(function (p) {
          var li = document.createElement("li");
          var b = document.createElement("button");
          b.type = "button";
          b.textContent = p.label; /* textContent: results are untrusted text */
          b.addEventListener("click", function () { place(p.lat, p.lon, { pan: true }); results.innerHTML = ""; status.textContent = "Now drag the pin onto the camera."; });
          li.appendChild(b);
          results.appendChild(li);
        });
      })
      .catch(function () { status.textContent = "Search unavailable. You can still place the camera on the map."; });
  }
  document.getElementById("address-search-go").addEventListener("click", search);
  searchInput.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); search(); } });

  /* Offer the photo's own GPS position, read in the browser (the stored photo has no EXIF). */
  var photo = document.getElementById("id_photo");
  var offer = document.getElementById("photo-position");
  var offerText = document.getElementById("photo-position-text");
  var photoPos = null;
  if (photo && window.exifr) {
    photo.addEventListener("change", function () {
      offer.hidden = true;
      photoPos = null;
      var file = photo.files && photo.files[0];
      if (!file) { return; }
      window.exifr.gps(file).then(function (gps) {
        if (gps && isFinite(gps.latitude) && isFinite(gps.longitude)) {
          photoPos = gps;
          offerText.textContent = round7(gps.latitude) + ", " + round7(gps.longitude);
          offer.hidden = false;
        }
      }).catch(function () { /* no readable EXIF: nothing to offer */ });
    });
    document.getElementById("use-photo-position").addEventListener("click", function () {
      if (photoPos) { place(photoPos.latitude, photoPos.longitude, { pan: true }); offer.hidden = true; }
    });
  }

  /* One-line help under each vocabulary select follows the chosen value. */
  Array.prototype.forEach.call(document.querySelectorAll("select.vocab"), function (sel) {
    var help = document.getElementById(sel.id + "_helptext");
    function update() { if (help) { help.textContent = sel.options[sel.selectedIndex].dataset.help || ""; } }
    sel.addEventListener("change", update);
    update();
  });

  /* A datetime-local value is the volunteer's local time; send it as an explicit UTC instant so
   * the server never reads it in its own time zone. */
  var form = document.getElementById("sighting-form");
  var observed = document.getElementById("id_observed_at");
  if (form && observed) {
    form.addEventListener("submit", function () {
      if (observed.value) {
        var when = new Date(observed.value);
        if (!isNaN(when.getTime())) { observed.type = "text"; observed.value = when.toISOString(); }
      }
    });
  }

  window.cameraWatchPicker = { map: map, place: place, marker: function () { return marker; } };
})();
