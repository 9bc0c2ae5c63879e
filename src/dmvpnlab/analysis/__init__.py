"""Capture analysis: NHRP/GRE ladders for users (`dmvpnlab pcap`), packet paths for scenarios."""
