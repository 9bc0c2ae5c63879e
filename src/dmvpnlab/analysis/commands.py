"""`dmvpnlab pcap FILE [--json] [--roundtrip] [--decrypt [--keys DIR]]`: the capture inspector on the command line.

The ladder and ``--roundtrip`` are `ladder`'s (our own codecs); ``--decrypt`` is
`decrypt`'s: tshark with the lab's Wireshark key tables (`esp_sa`,
`ikev1_decryption_table`, by default from the capture's own directory, where the agents
write them), one line per frame with what ESP carried, then the counts.

Exit codes (scripts rely on them): 0 fine; 1 ``--roundtrip`` found an NHRP packet that
does not decode or does not re-encode to the same bytes (the frame number is printed);
2 the file cannot be read (one-line error on stderr, never a traceback); 3 the capture is
damaged: a record is cut short or corrupt (a capture copied while it was written, a
broken download). Everything before the damaged record is printed first, then one line
naming its frame number and byte offset (on stderr; in the ``--roundtrip`` summary).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dmvpnlab.analysis.decrypt import DecryptError, decrypt_capture, summarize
from dmvpnlab.analysis.ladder import (CaptureDamaged, CaptureError, event_json, format_ladder, read_events,
                                      read_fault_record, roundtrip)

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
    parser.add_argument("--decrypt", action="store_true",
                        help="decrypt ESP (and IKEv1) with tshark and the lab's key tables; every frame, then counts")
    parser.add_argument("--faults", type=Path, metavar="FILE",
                        help="a lab's fault record to interleave with the ladder (default: faults.jsonl "
                             "next to the capture, where the lab writes it)")
    parser.add_argument("--keys", type=Path, metavar="DIR",
                        help="directory holding esp_sa and ikev1_decryption_table (default: the capture's directory); "
                             "the ladder and --roundtrip also look inside ESP these keys open")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = sys.stdout
    if args.decrypt:
        if args.roundtrip:
            print("dmvpnlab pcap: --decrypt and --roundtrip do not combine", file=sys.stderr)
            return EXIT_UNREADABLE
        return run_decrypt(Path(args.file), args.keys, args.json)
    try:
        keys = args.keys if args.keys is not None else Path(args.file).parent
        if args.roundtrip:
            result = roundtrip(args.file, keys)
            if not result.ok:
                print(f"frame {result.failed_frame}: NHRP packet {result.reason}", file=out)
                return EXIT_MISMATCH
            summary = f"{result.checked} NHRP packets decode and re-encode byte for byte"
            if result.damage is not None:
                print(f"{summary} before the damage; {result.damage}", file=out)
                return EXIT_DAMAGED
            print(summary, file=out)
            return 0
        events = read_events(args.file, keys)
        record = args.faults if args.faults is not None else Path(args.file).parent / "faults.jsonl"
        lines = (event_json(e) for e in events) if args.json else format_ladder(events, read_fault_record(record))
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


def run_decrypt(path: Path, keys: Path | None, as_json: bool) -> int:
    """`--decrypt`: every frame as tshark decrypted it, then the counts (exit 3 if damaged)."""
    out = sys.stdout
    keys_dir = keys if keys is not None else path.parent
    try:
        result = decrypt_capture(path, keys_dir)
    except DecryptError as exc:
        print(f"dmvpnlab pcap: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    counts = summarize(result.frames)
    damage = str(result.damage) if result.damage is not None else None
    try:
        if as_json:
            for frame in result.frames:
                print(json.dumps(frame.as_dict(), sort_keys=True), file=out)
            print(json.dumps({"summary": counts, "keys": str(keys_dir), "damaged": damage}, sort_keys=True), file=out)
        else:
            for frame in result.frames:
                print(frame.summary(), file=out)
            print(f"keys: {keys_dir}", file=out)
            print(format_counts(counts), file=out)
        out.flush()
    except BrokenPipeError:
        return 0
    if damage is not None:
        print(f"dmvpnlab pcap: {path}: {damage}", file=sys.stderr)
        return EXIT_DAMAGED
    return 0


def format_counts(counts: dict[str, int]) -> str:
    """The summary block under the frames: what a reader checks first."""
    c = counts
    return "\n".join((
        f"ESP packets: {c['esp']} (decrypted, ICV good: {c['esp_decrypted_ok']}; ICV bad: {c['esp_icv_bad']}; "
        f"not decrypted: {c['esp_undecrypted']}; decrypted without ICV: {c['esp_decrypted_no_icv']}; "
        f"sequence errors: {c['esp_sequence_errors']})",
        f"inside ESP: GRE {c['inner_gre']}, NHRP {c['inner_nhrp']}, ICMP {c['inner_icmp']}",
        f"cleartext GRE: {c['cleartext_gre']} (NHRP {c['cleartext_nhrp']}, ICMP {c['cleartext_icmp_in_gre']}; "
        f"after the first ESP packet: {c['cleartext_after_first_esp']})",
        f"ISAKMP: {c['isakmp']} (encrypted {c['isakmp_encrypted']}, decrypted {c['isakmp_decrypted']}); "
        f"UDP 4500: {c['udp4500']} (NAT keepalives {c['nat_keepalive']}); other IP: {c['other_ip']}; "
        f"frames: {c['frames']}",
    ))
