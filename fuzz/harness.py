"""The mutation engine and the runner every fuzz target shares.

Why our own and not atheris: it needs no compiler or coverage build, runs the same on
every CI machine, and the inputs that matter here are small structured packets and text
lines, where structure-aware mutation (interesting lengths, Unicode digits, surrogates,
huge numbers, long runs of whitespace) finds what random bytes rarely do. Every run is
reproducible from its RNG seed; a failing input is written to `fuzz/crashes/<target>/`.
"""

from __future__ import annotations

import hashlib
import random
import signal
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

FUZZ_DIR = Path(__file__).resolve().parent
CORPUS_DIR = FUZZ_DIR / "corpus"
CRASH_DIR = FUZZ_DIR / "crashes"
STALL_SECONDS = 2.0  # one input taking longer than this is a finding (a stalled router)

INTERESTING_8 = (0, 1, 0x7F, 0x80, 0xFF)
INTERESTING_16 = (0, 1, 0x7FFF, 0x8000, 0xFFFF, 0x00FF, 0xFF00)
# Text pieces that broke or could break a parser: Unicode digits that str.isdigit() takes
# and int() refuses, numbers past int()'s 4300-digit limit, a lone surrogate, control
# characters, long runs of white space, regex meta-characters.
INTERESTING_TEXT = (
    "²", "٣", "𝟘", "\udcff", "\x00", "\t", "\r", "\x1b[2J", " " * 5000, "9" * 5000,
    "4294967296", "-1", "0", "65536", "999999999999", "(a+)+$", "|", "!", "?", "#",
    "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3", "::1", "é", "\u202e", "interface",
)


class StallError(Exception):
    """One input ran past STALL_SECONDS."""


@dataclass(frozen=True)
class Target:
    """One thing to fuzz.

    `run` takes one input and returns normally when the code under test accepted it or
    refused it the documented way; anything it raises is a finding. `seeds` are valid
    inputs to start from (captures, templates, crafted packets); `text` says the input is
    UTF-8 text, so the text mutators apply (`run` still receives bytes).
    """

    name: str
    seeds: Callable[[], list[bytes]]
    run: Callable[[bytes], None]
    text: bool = False


@dataclass
class Finding:
    kind: str  # "crash" or "stall"
    data: bytes
    error: str
    path: Path | None = None


@dataclass
class FuzzResult:
    target: str
    executions: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    @property
    def crashes(self) -> int:
        return sum(1 for f in self.findings if f.kind == "crash")

    @property
    def stalls(self) -> int:
        return sum(1 for f in self.findings if f.kind == "stall")


# -- mutators -------------------------------------------------------------------------

def mutate_bytes(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    """One to four byte-level edits: flips, interesting values, inserts, cuts, splices."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(9)
        if not buf:
            buf.extend(rng.randbytes(rng.randint(1, 16)))
            continue
        pos = rng.randrange(len(buf))
        if choice == 0:
            buf[pos] ^= 1 << rng.randrange(8)
        elif choice == 1:
            buf[pos] = rng.choice(INTERESTING_8)
        elif choice == 2 and len(buf) >= 2:
            pos = min(pos, len(buf) - 2)
            buf[pos:pos + 2] = rng.choice(INTERESTING_16).to_bytes(2, "big")
        elif choice == 3:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 32))
        elif choice == 4:
            del buf[pos:pos + rng.randint(1, 32)]
        elif choice == 5:
            end = min(len(buf), pos + rng.randint(1, 64))
            buf[pos:pos] = buf[pos:end] * rng.randint(1, 8)
        elif choice == 6:
            del buf[pos:]
        elif choice == 7 and pool:
            other = rng.choice(pool)
            cut = rng.randrange(len(other) + 1)
            buf[pos:] = other[cut:]
        else:
            buf[pos] = rng.randrange(256)
    return bytes(buf)


def mutate_text(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    """Line and token edits on UTF-8 text (lone surrogates survive via surrogatepass)."""
    text = data.decode("utf-8", "surrogateescape")
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        choice = rng.randrange(8)
        i = rng.randrange(len(lines)) if lines else 0
        if not lines:
            lines = [rng.choice(INTERESTING_TEXT)]
        elif choice == 0:  # replace a token
            words = lines[i].split(" ")
            j = rng.randrange(len(words))
            words[j] = rng.choice(INTERESTING_TEXT)
            lines[i] = " ".join(words)
        elif choice == 1:  # insert a token
            words = lines[i].split(" ")
            words.insert(rng.randrange(len(words) + 1), rng.choice(INTERESTING_TEXT))
            lines[i] = " ".join(words)
        elif choice == 2:
            del lines[i]
        elif choice == 3:
            lines.insert(i, lines[i] * rng.randint(1, 3))
        elif choice == 4 and pool:  # a line from another seed
            other = rng.choice(pool).decode("utf-8", "surrogateescape").split("\n")
            lines.insert(i, rng.choice(other))
        elif choice == 5:  # repeat a block of lines (many interfaces, many routes)
            end = min(len(lines), i + rng.randint(1, 5))
            lines[i:i] = lines[i:end] * rng.randint(2, 50)
        elif choice == 6:  # a character-level edit
            line = lines[i]
            k = rng.randrange(len(line) + 1)
            lines[i] = line[:k] + rng.choice(INTERESTING_TEXT)[:rng.randint(1, 8)] + line[k + 1:]
        else:
            lines[i] = lines[i].upper() if rng.random() < 0.5 else lines[i].strip()
    out = "\n".join(lines)
    try:
        return out.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate from INTERESTING_TEXT: keep it, as bytes
        return out.encode("utf-8", "surrogatepass")


# -- running --------------------------------------------------------------------------

def _on_alarm(signum: int, frame: object) -> None:
    raise StallError(f"input ran longer than {STALL_SECONDS} s")


def _record(target: str, finding: Finding) -> Finding:
    directory = CRASH_DIR / target
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(finding.data).hexdigest()[:16]
    finding.path = directory / f"{finding.kind}-{digest}.bin"
    finding.path.write_bytes(finding.data)
    (directory / f"{finding.kind}-{digest}.txt").write_text(finding.error)
    return finding


def execute(target: Target, data: bytes) -> Finding | None:
    """Run one input under the stall alarm; a finding if it raised or stalled."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, STALL_SECONDS)
    try:
        target.run(data)
    except StallError as exc:
        return Finding("stall", data, str(exc))
    except Exception:  # noqa: BLE001 - every escaped exception is exactly what we look for
        return Finding("crash", data, traceback.format_exc())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return None


def corpus_files(target: str) -> list[Path]:
    """Committed inputs for a target: past findings (regressions) and hand-made seeds."""
    directory = CORPUS_DIR / target
    return sorted(p for p in directory.glob("*") if p.is_file()) if directory.is_dir() else []


def run_target(target: Target, *, iterations: int | None = None, seconds: float | None = None,
               rng_seed: int = 0, record: bool = True, max_findings: int = 20) -> FuzzResult:
    """Replay the corpus, then mutate seeds until `iterations` or `seconds` is reached."""
    rng = random.Random(rng_seed)
    seeds = list(target.seeds()) + [p.read_bytes() for p in corpus_files(target.name)]
    if not seeds:
        seeds = [b""]
    mutate = mutate_text if target.text else mutate_bytes
    result = FuzzResult(target.name)
    pool: list[bytes] = list(seeds)
    started = time.monotonic()
    deadline = started + seconds if seconds is not None else None

    def check(data: bytes) -> None:
        finding = execute(target, data)
        result.executions += 1
        if finding is not None and len(result.findings) < max_findings:
            result.findings.append(_record(target.name, finding) if record else finding)

    for seed in seeds:
        check(seed)
    while True:
        if iterations is not None and result.executions >= iterations:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        parent = rng.choice(pool)
        child = mutate(rng, parent, seeds)
        check(child)
        # A bounded random walk: some children become parents, so edits accumulate.
        if len(pool) < len(seeds) + 512:  # seeds stay; a many-router topology may bring hundreds
            pool.append(child)
        elif rng.random() < 0.1:
            pool[rng.randrange(len(seeds), len(pool))] = child
    result.seconds = time.monotonic() - started
    return result


def run_all(targets: Iterable[Target], **kwargs: object) -> list[FuzzResult]:
    return [run_target(t, **kwargs) for t in targets]  # type: ignore[arg-type]
