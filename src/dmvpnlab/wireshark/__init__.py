"""The Wireshark profile dmvpnlab ships: NHRP columns, colouring rules, ESP keys wired in.

Why: Wireshark's defaults show an NHRP packet as one Info string; a DMVPN engineer wants
the packet type, request id, NBMA and CIE addresses side by side, and one colour per
NHRP type so a registration storm or an error stands out. The files are package data
(`data/preferences`, `data/colorfilters`, carried by the wheel); `profile` writes them
as a profile folder (`dmvpnlab wireshark-profile DIR`) or into a lab's capture
directory (the lab calls `prepare_capture_config` at `up`). Imports ipsec.keylog only
(its file names and ESP preferences); never lab, cli or agent.
"""
