"""Layer 2 pieces the kernel here lacks, in user space: 802.1Q tagging (no 8021q module).

Sans-I/O like the other protocol packages: bytes in, bytes and counters out. The agent
(agent/dot1q_node.py) owns the TAPs and the AF_PACKET sockets.
"""
