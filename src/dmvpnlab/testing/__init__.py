"""Testing DMVPN designs with pytest: the plugin (plugin.py, loaded by the `pytest11`
entry point), its fixtures (fixtures.py), the lab sessions behind them (session.py) and
the leak guard (leaks.py). Nothing here is imported by the lab, the agent or the CLI.

`assert_path(lab, src, dst, expected, since=None)` is the public path assertion: the last
echo src -> dst must have crossed exactly the routers `expected`; its failure message says
the path expected, every path the captures show (with packet counts), the capture
directory and the frames proving it.
"""

from dmvpnlab.lab.flows import assert_path

__all__ = ["assert_path"]
