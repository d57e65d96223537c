# CameraWatch: `make run` to try it, `make test` to check it. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
VENDOR := static/vendor

.PHONY: run test setup assets lint format bench bench-dedupe bench-maps bench-api clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "CameraWatch needs Python 3.11 or newer (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.runtime-installed
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# Third-party JS/CSS comes from npm at setup and is served from our own origin (never a CDN,
# never committed). Only the files pages use are copied into static/vendor/.
$(VENDOR)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR)
	mkdir -p $(VENDOR)/leaflet $(VENDOR)/leaflet.markercluster $(VENDOR)/leaflet.heat $(VENDOR)/exifr
	cp -r node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.js.map node_modules/leaflet/dist/leaflet.css node_modules/leaflet/dist/images $(VENDOR)/leaflet/
	cp node_modules/leaflet.markercluster/dist/leaflet.markercluster.js node_modules/leaflet.markercluster/dist/leaflet.markercluster.js.map node_modules/leaflet.markercluster/dist/MarkerCluster*.css $(VENDOR)/leaflet.markercluster/
	cp node_modules/leaflet.heat/dist/leaflet-heat.js $(VENDOR)/leaflet.heat/
	cp node_modules/exifr/dist/lite.umd.js $(VENDOR)/exifr/exifr-lite.umd.js
	touch $@

assets: $(VENDOR)/.installed

setup: $(VENV)/.runtime-installed assets

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py rundev --seed-demo

test: $(VENV)/.dev-installed assets
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Every bench/bench_*.py prints a table; later issues add named targets (bench-dedupe, ...).
bench: $(VENV)/.dev-installed
	@shopt -s nullglob; benches=(bench/bench_*.py); \
	  if [ $${#benches[@]} -eq 0 ]; then echo "No benchmarks yet (see bench/README.md)."; fi; \
	  for b in "$${benches[@]}"; do $(PY) "$$b" || exit 1; done

# Dedupe's four measurements (issue 3). Accuracy and batch speed need only the shared datasets;
# incremental latency and end-to-end throughput need PostgreSQL and Redis on 127.0.0.1 and say
# so loudly if they are not there.
bench-dedupe: $(VENV)/.dev-installed
	$(PY) bench/bench_dedupe_accuracy.py
	$(PY) bench/bench_dedupe_batch.py
	$(PY) bench/bench_dedupe_incremental.py
	$(PY) bench/bench_dedupe_e2e.py

# Maps (issue 5): document size and build time for 25,000 and 250,000 cameras against a naive
# one-Marker-per-camera baseline, /maps/cameras.json, and markers drawn in Debian's chromium.
# Needs PostgreSQL on 127.0.0.1 (the 250k database is loaded once, then reused) and the vendored
# assets (`make assets`) that the browser loads.
bench-maps: $(VENV)/.dev-installed assets
	$(PY) bench/bench_maps.py

# API (issue 6): 1,000,000 cameras in PostgreSQL (loaded once, then reused) served by gunicorn as
# deployed, loaded by wrk on this machine: GeoJSON bbox pages against a raw SQL + orjson view,
# the streamed CSV export (rows/s, worker RSS), /api/v1/stats/ and /api/v1/neighbourhoods/.
# Needs PostgreSQL and Redis on 127.0.0.1; installs wrk with apt-get when it is missing.
bench-api: $(VENV)/.dev-installed
	@command -v wrk >/dev/null || { sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get install -y wrk || { $$sudo apt-get update && $$sudo apt-get install -y wrk; }; }
	$(PY) bench/bench_api.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR) staticfiles
