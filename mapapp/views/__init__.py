"""Web views, one module per area: pages, accounts, sightings, geocode."""
