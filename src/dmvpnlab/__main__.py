"""`python -m dmvpnlab ...` is the `dmvpnlab` command; the lab starts agents and the agent zygote this way."""

import sys

from dmvpnlab.command import main

sys.exit(main())
