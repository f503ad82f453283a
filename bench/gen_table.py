#!/usr/bin/env python3
"""Writes a large search table for `sockmux app-server --table` (issue 11,
item 6): a JSON object of N keys like `key-0999999-1f3a9c0e` to answers of
about 40 bytes, the same for the same --seed and --variant.

Most answers are plain ASCII; a few carry what the server must escape or
keep as UTF-8 in its `{"result": ...}` answers: every 97th an emoji, every
1009th a double quote and a backslash, every 10007th a newline and a tab.
`--variant B` keeps the keys and changes every answer (a table to reload
to); `--indent` writes one entry per line instead of one long line.

Usage: python3 bench/gen_table.py OUT.json [--entries 1000000] [--seed 1] [--variant A] [--indent]
"""

import argparse
import json
import random

WORDS = ["white", "rabbit", "follow", "misty", "mountains", "caves", "ring", "ball",
         "playing", "beneath", "answer", "table", "reload", "million", "socket", "quiet"]


def answer(rng, i, variant):
    words = [WORDS[rng.randrange(len(WORDS))] for _ in range(6)]
    text = f"{variant}{i}: " + " ".join(words)
    if i % 97 == 0:
        text += " \U0001f430"
    if i % 1009 == 0:
        text += ' "quoted" back\\slash'
    if i % 10007 == 0:
        text += "\nnext\tline"
    return text[:60]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variant", default="A", help="prefix of every answer: tables that differ only here share keys")
    ap.add_argument("--indent", action="store_true", help="one entry per line")
    args = ap.parse_args()

    keys = random.Random(args.seed)
    values = random.Random(f"{args.seed}-{args.variant}")
    table = {}
    for i in range(args.entries):
        key = f"key-{i:07d}-{keys.getrandbits(32):08x}"
        table[key] = answer(values, i, args.variant)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(table, f, ensure_ascii=False, indent=1 if args.indent else None)
        f.write("\n")


if __name__ == "__main__":
    main()
