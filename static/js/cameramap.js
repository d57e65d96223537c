/* CameraWatch public maps: draws the compact camera data that mapapp/maps/render.py embeds.
 *
 * Safety rule for this file: user-supplied text (operator names, neighbourhood names) only ever
 * reaches the page through textContent or createTextNode, never innerHTML or HTML strings given
 * to Leaflet. Popups and tooltips are DOM nodes built here.
 */
(function () {
  "use strict";

  var EARTH_R = 6371008.8;
  var FOV_MIN_ZOOM = 17;
  var FOV_MAX_DRAWN = 3000;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function row(table, label, value) {
    var tr = el("tr");
    tr.appendChild(el("th", null, label));
    tr.appendChild(el("td", null, value === null || value === undefined || value === "" ? "unknown" : value));
    table.appendChild(tr);
  }

  /* Where a point `dist` metres away on `bearing` lands (local equirectangular: exact enough
     for the tens of metres of a field of view; mapapp/maps/fov.py is the reference). */
  function offset(lat, lon, bearingDeg, dist) {
    var b = bearingDeg * Math.PI / 180;
    var dLat = (dist * Math.cos(b)) / EARTH_R;
    var cos = Math.max(Math.cos(lat * Math.PI / 180), 1e-6);
    var dLon = (dist * Math.sin(b)) / (EARTH_R * cos);
    return [lat + dLat * 180 / Math.PI, lon + dLon * 180 / Math.PI];
  }

  function wedge(lat, lon, direction, angle, reach) {
    var ring = [[lat, lon]], steps = 8, start = direction - angle / 2;
    for (var i = 0; i <= steps; i++) { ring.push(offset(lat, lon, start + angle * i / steps, reach)); }
    ring.push([lat, lon]);
    return ring;
  }

  function markerIcon(kind, colour) {
    return L.divIcon({
      className: "cw-marker cw-kind-" + kind,
      html: '<span style="background:' + colour + '"></span>',  // our constants only
      iconSize: [16, 16],
      iconAnchor: [8, 8]
    });
  }

  function legendControl(build) {
    var Legend = L.Control.extend({
      options: { position: "bottomright" },
      onAdd: function () {
        var box = el("div", "cw-legend leaflet-bar");
        build(box);
        L.DomEvent.disableClickPropagation(box);
        return box;
      }
    });
    return new Legend();
  }

  function popupContent(info, options) {
    var box = el("div", "cw-popup");
    var title = el("strong", null, "Camera #" + info.id + " · " + (info.status_label || info.status));
    box.appendChild(title);
    var table = el("table");
    var labels = info.labels || {};
    function withLabel(value, key) {
      return labels[key] ? (value || "unknown") + " (" + labels[key] + ")" : value;
    }
    var shown = info.display || {};
    row(table, "Type", withLabel(shown.camera_type || info.camera_type, "camera_type"));
    row(table, "Mount", withLabel(shown.camera_mount || info.camera_mount, "camera_mount"));
    row(table, "Operator", withLabel(info.operator, "operator"));
    row(table, "Operator type", shown.operator_type || info.operator_type);
    if (info.direction !== null && info.direction !== undefined) {
      row(table, "Facing", withLabel(info.direction + "°", "direction"));
    }
    box.appendChild(table);
    if (info.photo) {
      var img = el("img", "cw-thumb");
      img.src = info.photo;
      img.alt = "Photo of camera #" + info.id;
      img.loading = "lazy";
      box.appendChild(img);
    }
    var links = el("p");
    var page = el("a", null, "Details and history");
    page.href = info.url;
    page.target = "_top";
    links.appendChild(page);
    links.appendChild(document.createTextNode(" · "));
    var verify = el("a", null, "Verify it");
    verify.href = info.verify_url || options.verifyUrl;
    verify.target = "_top";
    links.appendChild(verify);
    box.appendChild(links);
    return box;
  }

  function loadPopup(marker, id, options) {
    var url = options.popupUrl.replace("{id}", String(id));
    marker.bindPopup(el("div", "cw-popup", "Loading…")).openPopup();
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (info) { marker.setPopupContent(popupContent(info, options)); })
      .catch(function () { marker.setPopupContent(el("div", "cw-popup", "This camera could not be loaded.")); });
  }

  function neighbourhood(map, control, data, options) {
    var n = data.id.length, scale = options.scale;
    var icons = {};
    options.statuses.forEach(function (status) {
      options.kinds.forEach(function (kind) {
        icons[status + "/" + kind] = markerIcon(kind, options.colours[status] || "#555");
      });
    });
    var cluster = L.markerClusterGroup({
      chunkedLoading: true,
      disableClusteringAtZoom: 19,
      maxClusterRadius: 60,
      chunkProgress: function (processed, total) {
        // Set once every marker is in the cluster index (chunked loading yields to the browser
        // between chunks); tests and the benchmark wait for it.
        if (processed === total) { document.documentElement.dataset.markersDrawn = String(total); }
      }
    });
    var markers = new Array(n), heatPoints = new Array(n);
    for (var i = 0; i < n; i++) {
      var lat = data.lat[i] / scale, lon = data.lon[i] / scale;
      var status = options.statuses[data.s[i]], kind = options.kinds[data.k[i]];
      var marker = L.marker([lat, lon], { icon: icons[status + "/" + kind], title: "Camera #" + data.id[i], keyboard: false });
      marker.cwId = data.id[i];
      markers[i] = marker;
      heatPoints[i] = [lat, lon];
    }
    cluster.on("click", function (e) { loadPopup(e.layer, e.layer.cwId, options); });
    cluster.addLayers(markers);
    cluster.addTo(map);
    control.addOverlay(cluster, "Cameras");

    var fovLayer = L.layerGroup();
    function drawFov() {
      fovLayer.clearLayers();
      if (!map.hasLayer(fovLayer) || map.getZoom() < FOV_MIN_ZOOM) { return; }
      var view = map.getBounds().pad(0.2), drawn = 0;
      for (var j = 0; j < n && drawn < FOV_MAX_DRAWN; j++) {
        if (data.d[j] < 0) { continue; }
        var la = data.lat[j] / scale, lo = data.lon[j] / scale;
        if (!view.contains([la, lo])) { continue; }
        L.polygon(wedge(la, lo, data.d[j], options.fovAngle, data.r[j] / 10), {
          color: options.colours[options.statuses[data.s[j]]] || "#555", weight: 1, fillOpacity: 0.18, interactive: false
        }).addTo(fovLayer);
        drawn++;
      }
    }
    fovLayer.addTo(map);
    map.on("moveend zoomend overlayadd", drawFov);
    control.addOverlay(fovLayer, "Fields of view (zoom in)");

    if (L.heatLayer) {
      var heat = L.heatLayer(heatPoints, { radius: 18, blur: 15, maxZoom: 17 });
      control.addOverlay(heat, "Heat map");
    }

    legendControl(function (box) {
      box.appendChild(el("strong", null, "Status"));
      options.statuses.forEach(function (status) {
        var line = el("div", "cw-legend-row");
        var swatch = el("span", "cw-swatch");
        swatch.style.background = options.colours[status];
        line.appendChild(swatch);
        line.appendChild(document.createTextNode(status));
        box.appendChild(line);
      });
      box.appendChild(el("strong", null, "Type"));
      options.kinds.forEach(function (kind) {
        var line = el("div", "cw-legend-row");
        line.appendChild(el("span", "cw-marker-sample cw-kind-" + kind));
        line.appendChild(document.createTextNode(kind === "alpr" ? "licence-plate reader" : kind));
        box.appendChild(line);
      });
      box.appendChild(el("div", "cw-legend-row", "Wedges: field of view (85°)"));
    }).addTo(map);

    window.cameraWatchMap = { map: map, cluster: cluster, fov: fovLayer, count: n };
    if (n === 0) { document.documentElement.dataset.markersDrawn = "0"; }
    drawFov();
  }

  function overview(map, control, choropleth, table) {
    choropleth.eachLayer(function (layer) {
      var area = table.areas[layer.feature.properties.i];
      var tip = el("div", "cw-tooltip");
      tip.appendChild(el("strong", null, area.name));
      tip.appendChild(el("div", null, area.cameras + " cameras"));
      tip.appendChild(el("div", null, area.perKm2 === null ? "area unknown" : area.perKm2.toFixed(1) + " per km²"));
      layer.bindTooltip(tip, { sticky: true });
      layer.on("click", function () { window.top.location.href = table.pageUrl.replace("{slug}", encodeURIComponent(area.slug)); });
    });

    var all = L.markerClusterGroup({ chunkedLoading: true, disableClusteringAtZoom: 18 });
    var aggregates = L.layerGroup();
    var holder = L.layerGroup([all, aggregates]);
    var pending = null;
    function reload() {
      if (!map.hasLayer(holder)) { return; }
      var b = map.getBounds();
      var url = table.camerasUrl + "?bbox=" + [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); }).join(",") + "&zoom=" + map.getZoom();
      if (pending) { pending.abort(); }
      pending = new AbortController();
      fetch(url, { signal: pending.signal })
        .then(function (r) { return r.json(); })
        .then(function (body) {
          all.clearLayers();
          aggregates.clearLayers();
          if (body.kind === "cells") {
            body.cells.forEach(function (c) {
              var radius = 8 + Math.min(22, Math.log(c[2] + 1) * 3);
              L.circleMarker([c[0], c[1]], { radius: radius, color: "#1e3a8a", weight: 1, fillColor: "#3b82f6", fillOpacity: 0.6 })
                .bindTooltip(el("span", null, c[2] + " cameras"))
                .on("click", function () { map.setView([c[0], c[1]], Math.min(map.getZoom() + 2, 18)); })
                .addTo(aggregates);
            });
          } else {
            all.addLayers(body.cameras.map(function (c) {
              return L.circleMarker([c[0], c[1]], { radius: 5, color: "#111", weight: 1, fillColor: table.statusColours[c[2]] || "#555", fillOpacity: 0.85 });
            }));
          }
          document.documentElement.dataset.cameraLayer = body.kind;
          document.documentElement.dataset.cameraCount = String(body.count);
        })
        .catch(function () {});
    }
    map.on("moveend overlayadd", reload);
    control.addOverlay(holder, "All cameras (clustered)");

    legendControl(function (box) {
      box.appendChild(el("strong", null, "Cameras per km²"));
      table.steps.forEach(function (step, i) {
        var line = el("div", "cw-legend-row");
        var swatch = el("span", "cw-swatch");
        swatch.style.background = table.colours[i];
        line.appendChild(swatch);
        var next = table.steps[i + 1];
        line.appendChild(document.createTextNode(next === undefined ? step + "+" : step + "–" + next));
        box.appendChild(line);
      });
    }).addTo(map);
    window.cameraWatchMap = { map: map, choropleth: choropleth, cameras: holder };
    document.documentElement.dataset.areasDrawn = String(table.areas.length);
  }

  window.CameraWatchMap = { neighbourhood: neighbourhood, overview: overview, wedge: wedge };
})();
