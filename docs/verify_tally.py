#!/usr/bin/env python3
"""Recount an aimoviez slot tally with nothing but Python's standard library.

    python3 verify_tally.py FILE [--root HEX] [--winner CLIP]
                                 [--daily-budget UNITS] [--multi-vote]

FILE is a locked slot's export: one canonical JSON line per vote, in vote-id
order, each ending with a newline. The script

  1. checks that every line is spelled the one canonical way,
  2. recomputes the RFC 6962 Merkle root (SHA-256; leaf = H(0x00 || line),
     node = H(0x01 || left || right), empty tree = H("")) and compares it
     with --root,
  3. adds up the counted weight and votes per clip and names the leader,
     compared with --winner (weight, then votes; a remaining tie goes to the
     earlier upload, which the export does not show),
  4. checks each pseudonymous voter's rules on counted votes: at most one
     standard vote per clip (unless --multi-vote), at most one super and one
     mega, and at most --daily-budget weight per UTC day.

Exit status: 0 when everything matches, 1 naming the first discrepancy,
2 when FILE cannot be read. docs/verify.md explains the format.
"""

import argparse
import datetime
import hashlib
import re
import sys

MAX_LINE_BYTES = 512
WEIGHTS = {"standard": 1, "super": 3, "mega": 10}
CANONICAL = re.compile(
    rb'\{"voteId":([1-9][0-9]*),"voter":"([0-9a-f]{64})","clipId":([1-9][0-9]*),'
    rb'"voteType":"(standard|super|mega)","weight":(0|[1-9][0-9]*),'
    rb'"castAt":"([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3})Z",'
    rb'"counted":(true|false)\}'
)


class Discrepancy(Exception):
    """The first thing that does not add up."""


def leaf_hash(line):
    return hashlib.sha256(b"\x00" + line).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


class RootBuilder:
    """The RFC 6962 root of leaves pushed one at a time, in O(log n) memory."""

    def __init__(self):
        self.stack = []  # (level, hash), levels strictly falling
        self.size = 0

    def push(self, leaf):
        level, value = 0, leaf
        while self.stack and self.stack[-1][0] == level:
            _, left = self.stack.pop()
            level, value = level + 1, node_hash(left, value)
        self.stack.append((level, value))
        self.size += 1

    def root(self):
        if not self.stack:
            return hashlib.sha256(b"").digest()
        value = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            value = node_hash(left, value)
        return value


def parse(number, line):
    """One canonical line -> (voteId, voter, clipId, voteType, weight, day, counted)."""
    match = CANONICAL.fullmatch(line)
    if not match:
        raise Discrepancy(f"line {number}: not a canonical tally line: {line[:80]!r}")
    vote, voter, clip, vote_type, weight, day, clock, counted = match.groups()
    vote, clip, weight = int(vote), int(clip), int(weight)
    if vote >= 2**64 or clip >= 2**64 or weight >= 2**32:
        raise Discrepancy(f"line {number}: a number is out of range")
    try:
        when = datetime.datetime.strptime((day + b"T" + clock).decode(), "%Y-%m-%dT%H:%M:%S.%f")
    except ValueError:
        raise Discrepancy(f"line {number}: castAt is not a real UTC time") from None
    if when.year < 1970:
        raise Discrepancy(f"line {number}: castAt is before 1970")
    return vote, voter.decode(), clip, vote_type.decode(), weight, day.decode(), counted == b"true"


def verify(source, args):
    builder = RootBuilder()
    previous = None
    clips = {}  # clip -> [weight, votes]
    voters = {}  # pseudonym -> {"standard": set(), "super": bool, "mega": bool, "days": {day: weight}}
    counted_votes = 0
    first_rule_broken = None
    while True:
        raw = source.readline(MAX_LINE_BYTES + 2)
        if not raw:
            break
        number = builder.size + 1
        if not raw.endswith(b"\n"):
            what = "is too long" if len(raw) > MAX_LINE_BYTES else "does not end with a newline"
            raise Discrepancy(f"line {number}: the line {what}")
        line = raw[:-1]
        vote, voter, clip, vote_type, weight, day, counted = parse(number, line)
        if previous is not None and vote <= previous:
            raise Discrepancy(f"line {number}: vote {vote} comes after vote {previous}; lines must be in increasing vote-id order")
        previous = vote
        builder.push(leaf_hash(line))
        record = voters.setdefault(voter, {"standard": set(), "super": False, "mega": False, "days": {}})
        if not counted:
            continue
        counted_votes += 1
        standing = clips.setdefault(clip, [0, 0])
        standing[0] += weight
        standing[1] += 1
        if first_rule_broken is not None:
            continue
        short = voter[:12]
        if weight != WEIGHTS[vote_type]:
            first_rule_broken = f"line {number}: vote {vote} is a {vote_type} vote with weight {weight}; a {vote_type} vote weighs {WEIGHTS[vote_type]}"
            continue
        if vote_type == "standard":
            if clip in record["standard"] and not args.multi_vote:
                first_rule_broken = f"line {number}: voter {short} has a second counted standard vote on clip {clip} (vote {vote})"
                continue
            record["standard"].add(clip)
        else:
            if record[vote_type]:
                first_rule_broken = f"line {number}: voter {short} has a second counted {vote_type} vote in this slot (vote {vote})"
                continue
            record[vote_type] = True
        spent = record["days"].get(day, 0) + weight
        record["days"][day] = spent
        if spent > args.daily_budget:
            first_rule_broken = f"line {number}: voter {short} reaches weight {spent} on {day}, over the daily budget of {args.daily_budget} (vote {vote})"

    root = builder.root().hex()
    if args.root is not None and args.root.lower() != root:
        raise Discrepancy(f"the root of these {builder.size} lines is {root}, not the published {args.root.lower()}")
    if first_rule_broken is not None:
        raise Discrepancy(first_rule_broken)
    standings = sorted(clips.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
    leaders = [clip for clip, (w, v) in standings if standings and (w, v) == tuple(standings[0][1])]
    if args.winner is not None and leaders and args.winner not in leaders:
        raise Discrepancy(f"the published winner is clip {args.winner}, but the tally gives clip(s) {', '.join(map(str, leaders))}")

    print(f"lines:   {builder.size} votes ({counted_votes} counted, {builder.size - counted_votes} not counted) from {len(voters)} pseudonymous voters")
    print(f"root:    {root}")
    for clip, (weight, votes) in standings[:10]:
        print(f"clip {clip:<8} weight {weight:>8}  votes {votes:>8}")
    if not leaders:
        print("winner:  no winner (no counted vote)")
    elif len(leaders) == 1:
        print(f"winner:  clip {leaders[0]}")
    else:
        print(f"winner:  a tie between clips {', '.join(map(str, leaders))} on weight and votes (decided by upload time)")
    print("OK")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--root", help="the published root, 64 hex digits")
    parser.add_argument("--winner", type=int, help="the published winner's clip id")
    parser.add_argument("--daily-budget", type=int, default=200, help="weight units per voter per UTC day (default 200)")
    parser.add_argument("--multi-vote", action="store_true", help="the slot ran in multi-vote mode")
    args = parser.parse_args()
    try:
        source = open(args.file, "rb")
    except OSError as error:
        print(f"error: cannot read {args.file}: {error}", file=sys.stderr)
        return 2
    with source:
        try:
            verify(source, args)
        except Discrepancy as discrepancy:
            print(f"FAILED: {discrepancy}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
