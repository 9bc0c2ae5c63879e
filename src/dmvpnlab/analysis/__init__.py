"""Capture analysis: NHRP/GRE ladders for users (`dmvpnlab pcap`), packet paths for scenarios and the demo.

Reads pcap/pcapng files with the project's own codecs; may import `dmvpnlab.nhrp`,
`dmvpnlab.tunnel` and scapy, never `dmvpnlab.lab`, `cli` or `agent` (the lab imports
analysis to judge its captures, not the other way round).
"""
