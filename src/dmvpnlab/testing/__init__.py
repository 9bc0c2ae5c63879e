"""Testing DMVPN designs with pytest: the plugin (plugin.py, loaded by the `pytest11`
entry point), its fixtures (fixtures.py), the lab sessions behind them (session.py) and
the leak guard (leaks.py). Nothing here is imported by the lab, the agent or the CLI."""
