"""`dmvpnlab pcap FILE [--json] [--roundtrip]`: the capture inspector on the command line (over `ladder`).

Exit codes (scripts rely on them): 0 fine; 1 ``--roundtrip`` found an NHRP packet that
does not decode or does not re-encode to the same bytes (the frame number is printed);
2 the file cannot be read (one-line error on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import sys

from dmvpnlab.analysis.ladder import CaptureError, event_json, format_ladder, read_events, roundtrip


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pcap", help="show the NHRP and tunnel traffic of a capture as a ladder",
        description="Print the NHRP and tunnel (GRE, ESP, IKE) packets of a pcap/pcapng capture.")
    parser.add_argument("file", help="capture file (pcap or pcapng; Ethernet, Linux cooked or raw IP)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true", help="one JSON object per packet")
    mode.add_argument("--roundtrip", action="store_true",
                      help="decode and re-encode every NHRP packet; exit 1 at the first that differs")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = sys.stdout
    try:
        if args.roundtrip:
            result = roundtrip(args.file)
            if not result.ok:
                print(f"frame {result.failed_frame}: NHRP packet {result.reason}", file=out)
                return 1
            print(f"{result.checked} NHRP packets decode and re-encode byte for byte", file=out)
            return 0
        events = read_events(args.file)
        lines = (event_json(e) for e in events) if args.json else format_ladder(events)
        for line in lines:
            print(line, file=out)
        return 0
    except CaptureError as exc:
        print(f"dmvpnlab pcap: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `dmvpnlab pcap F | head`
        return 0
