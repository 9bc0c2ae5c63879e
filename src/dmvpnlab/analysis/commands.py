"""`dmvpnlab pcap FILE [--json] [--roundtrip]`: the capture inspector on the command line (over `ladder`).

Exit codes (scripts rely on them): 0 fine; 1 ``--roundtrip`` found an NHRP packet that
does not decode or does not re-encode to the same bytes (the frame number is printed);
2 the file cannot be read (one-line error on stderr, never a traceback); 3 the capture is
damaged: a record is cut short or corrupt (a capture copied while it was written, a
broken download). Everything before the damaged record is printed first, then one line
naming its frame number and byte offset (on stderr; in the ``--roundtrip`` summary).
"""

from __future__ import annotations

import argparse
import sys

from dmvpnlab.analysis.ladder import CaptureDamaged, CaptureError, event_json, format_ladder, read_events, roundtrip

EXIT_MISMATCH = 1
EXIT_UNREADABLE = 2
EXIT_DAMAGED = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pcap", help="show the NHRP and tunnel traffic of a capture as a ladder",
        description="Print the NHRP and tunnel (GRE, ESP, IKE) packets of a pcap/pcapng capture.",
        epilog="exit status: 0 fine; 1 --roundtrip found an NHRP packet that differs; 2 the file cannot be "
               "read; 3 the capture is damaged (a record cut short or corrupt: what comes before it is "
               "printed, then its frame number and byte offset)")
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
                return EXIT_MISMATCH
            summary = f"{result.checked} NHRP packets decode and re-encode byte for byte"
            if result.damage is not None:
                print(f"{summary} before the damage; {result.damage}", file=out)
                return EXIT_DAMAGED
            print(summary, file=out)
            return 0
        events = read_events(args.file)
        lines = (event_json(e) for e in events) if args.json else format_ladder(events)
        for line in lines:
            print(line, file=out)
        return 0
    except CaptureDamaged as exc:
        out.flush()  # what was read comes first, then where it stopped
        print(f"dmvpnlab pcap: {exc}", file=sys.stderr)
        return EXIT_DAMAGED
    except CaptureError as exc:
        print(f"dmvpnlab pcap: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except BrokenPipeError:  # `dmvpnlab pcap F | head`
        return 0
