"""What both benchmark peers share: the seed preset's sizes, the command line, and the one JSON line."""
import argparse
import json
import os
import sys

EXPECTED_PARAMS = 798_760
FRAMES, COEFFS, CLASSES = 301, 40, 8
FILTERS = (32, 64, 128)
LSTM_UNITS = 112
ATTENTION_UNITS = 128
DROPOUT = 0.3


def argument_parser(description, warmup_help):
    """--threads, --batch, --steps, --warmup and --seed; the peer adds its own options."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (inter-op is 1)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=20, help="timed training steps")
    p.add_argument("--warmup", type=int, default=3, help=warmup_help)
    p.add_argument("--seed", type=int, default=1234)
    return p


def parse_checked(p, argv):
    a = p.parse_args(argv)
    if a.threads < 1 or a.batch < 1 or a.steps < 1 or a.warmup < 0:
        p.error("--threads, --batch and --steps must be >= 1, --warmup >= 0")
    return a


def redirect_stdout_to_stderr():
    """Keep fd 1 for the JSON line only: libraries that print (from Python or C) land on stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return saved


def emit(fd, obj):
    os.write(fd, (json.dumps(obj, separators=(",", ":")) + "\n").encode())


def run_peer(peer, main):
    """Runs main(argv) as the script's entry point: any failure is one line on stderr and exit code 1."""
    try:
        sys.exit(main(sys.argv[1:]))
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - any failure is reported as one line, nonzero exit
        print(f"{peer}: {type(e).__name__}: {e}".replace("\n", " "), file=sys.stderr)
        sys.exit(1)
