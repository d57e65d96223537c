"""The fictional demo city: a pure generator (generate.py) and the service that writes it (seed.py)."""

from .generate import DEMO_PASSWORD, DEMO_USERNAME, DemoAlreadySeeded, DemoCity, DemoSummary, generate_city
from .seed import demo_data_exists, demo_seed

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_USERNAME",
    "DemoAlreadySeeded",
    "DemoCity",
    "DemoSummary",
    "demo_data_exists",
    "demo_seed",
    "generate_city",
]
