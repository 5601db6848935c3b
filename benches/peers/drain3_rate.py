"""Drain3's throughput on the same input as opsdeck's miner benchmark.

Usage: python drain3_rate.py FILE MAX_LINES
Prints one JSON line: {"lines": n, "bytes": b, "seconds": s}.

Configured as Drain3's own example configuration does (drain3.ini in its
repository): depth 4, similarity 0.4, 100 children, and its masking
instructions for IPs, numbers, hex, and key=value numbers.
"""
import json
import sys
import time

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig


def config() -> TemplateMinerConfig:
    c = TemplateMinerConfig()
    c.drain_depth = 4
    c.drain_sim_th = 0.4
    c.drain_max_children = 100
    c.masking_instructions = [
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))((?=[^A-Za-z0-9])|$)", "ID"),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)", "IP"),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)", "SEQ"),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)([0-9A-F]{4} ?){4,}((?=[^A-Za-z0-9])|$)", "SEQ"),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)", "HEX"),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "NUM"),
        MaskingInstruction(r"(?<=executed cmd )(\".+?\")", "CMD"),
    ]
    return c


def main() -> None:
    path, max_lines = sys.argv[1], int(sys.argv[2])
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = []
        for line in f:
            lines.append(line.rstrip("\n"))
            if len(lines) >= max_lines:
                break
    miner = TemplateMiner(config=config())
    started = time.perf_counter()
    for line in lines:
        miner.add_log_message(line)
    seconds = time.perf_counter() - started
    print(json.dumps({
        "lines": len(lines),
        "bytes": sum(len(l) + 1 for l in lines),
        "seconds": seconds,
        "templates": len(miner.drain.clusters),
    }))


if __name__ == "__main__":
    main()
