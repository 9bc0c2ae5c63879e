"""`dmvpnlab demo`: the project's story told on a live lab, as steps of checks, outputs and ladders.

Steps are data (`steps.STEPS`, `steps.register_step`), so each area adds its chapter
(the underlay, the NHRP registration, the Phase 3 story) without touching the runner; a
step returns `items` (`Check`: a claim and whether it held; `Output`: a router's CLI
output verbatim; `Ladder`: packets in time order) and the demo exits 0 only if every
check held. The claims are about packets on wires, so they are judged from the pcapng
files the user can open afterwards: `story` (and `show`, `ladders`, `ipsec_story`) judge
recorded sightings and CLI text without a lab, unit-testable; `underlay_steps`,
`nhrp_steps` and `ipsec_steps` only make the traffic and collect captures and outputs;
`printers` show the items. On a lab with `tunnel protection` the IPsec steps join in
(IKE and the first SAs before the registrations, the spoke-to-spoke SA and the ESP-only
WAN after the direct path), judged from captures decrypted by tshark with the keys the
agents exported. May import `dmvpnlab.ipsec.keylog` (file names), `dmvpnlab.analysis`, `dmvpnlab.lab.topology`, `dmvpnlab.cli.client`,
`dmvpnlab.nhrp.codec` (names only), scapy's pcapng reader and rich.
"""
