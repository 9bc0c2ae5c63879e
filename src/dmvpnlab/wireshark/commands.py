"""`dmvpnlab wireshark-profile DIR [--captures CAPDIR]`: write dmvpnlab's Wireshark profile.

Exit codes: 0 written; 2 the capture directory does not exist or DIR cannot be written
(one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dmvpnlab.wireshark.profile import write_profile

EXIT_ERROR = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "wireshark-profile", help="write a Wireshark profile with NHRP columns, colours and the lab's ESP keys",
        description="Write a Wireshark configuration profile folder: NHRP columns (type, request id, NBMA and "
                    "CIE addresses), one colouring rule per NHRP packet type plus ESP/ISAKMP, and with "
                    "--captures the lab's ESP/IKEv1 keys with ESP decryption on.",
        epilog="use: copy DIR to ~/.config/wireshark/profiles/dmvpnlab (then pick it in Wireshark), or "
               "WIRESHARK_CONFIG_DIR=DIR wireshark|tshark ...")
    parser.add_argument("directory", type=Path, metavar="DIR", help="profile folder to write (created)")
    parser.add_argument("--captures", type=Path, metavar="CAPDIR",
                        help="a lab's capture directory (captures/<lab>): copy its esp_sa and "
                             "ikev1_decryption_table and enable ESP decryption")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        written = write_profile(args.directory, args.captures)
    except OSError as error:
        print(f"dmvpnlab wireshark-profile: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(f"wrote Wireshark profile {written.directory}")
    if written.keys_copied:
        print(f"  keys: {', '.join(written.keys_copied)} (ESP decryption on)")
    elif args.captures is not None:
        print(f"  no key tables in {args.captures} yet (no IPsec SA negotiated?): ESP stays encrypted",
              file=sys.stderr)
    return 0
