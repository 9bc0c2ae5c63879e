"""Scenario fixtures: the lab fixture, the `topology` marker and the leak guard.

pytest no longer accepts `pytest_plugins` in a non-root conftest, so the plugin's fixtures
and hooks are imported here by name (see dmvpnlab/lab/pytest_plugin.py).
"""

from dmvpnlab.lab.pytest_plugin import *  # noqa: F401,F403
