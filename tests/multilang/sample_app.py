#!/usr/bin/env python3
"""A MultiLang record processor for kls's tests, written from the protocol of KCL's
MultiLangDaemon (no KCL client library needed): one JSON object per line on stdin,
answers on stdout, each wrapped in newlines as KCL's clients write them.

It writes what it sees, one line each, to --out (flushed per line, so a test can read
it while the app waits):
    pid <pid> <working directory> <$KLS_SAMPLE_TAG or ->
    init <shardId> <sequenceNumber> <subSequenceNumber>
    rec <sequenceNumber> <subSequenceNumber> <partitionKey> <data as hex> <arrival ms>
    ckpt-req <sequenceNumber or -> <subSequenceNumber or ->
    ckpt-ok <sequenceNumber or -> <subSequenceNumber or ->   (the reply came, no error)
    ckpt-error <error name>
    leaseLost | shardEnded | shutdownRequested | exit

Options choose when to checkpoint and how to misbehave (N counts records from 1 over
the app's life):
    --every N           checkpoint at every N-th record (its sequence and sub-sequence)
    --batch-end         checkpoint with no sequence number (the last record delivered)
                        at the end of every batch
    --die-after N       SIGKILL itself on reaching record N (before writing it)
    --hang-after N      stop answering on reaching record N
    --bad-action-after N  send {"action": "chekpoint"} on reaching record N
    --noise             print lines that are not protocol messages on stdout at init
    --ckpt-on-lost      try to checkpoint in leaseLost (it must be refused)
    --stderr-lines N    write N lines to stderr at init, before answering (more than a
                        pipe holds: kls must read stderr while it waits)
"""
import argparse
import base64
import json
import os
import signal
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--every", type=int, default=0)
    ap.add_argument("--batch-end", action="store_true")
    ap.add_argument("--die-after", type=int, default=0)
    ap.add_argument("--hang-after", type=int, default=0)
    ap.add_argument("--bad-action-after", type=int, default=0)
    ap.add_argument("--noise", action="store_true")
    ap.add_argument("--ckpt-on-lost", action="store_true")
    ap.add_argument("--stderr-lines", type=int, default=0)
    opt = ap.parse_args()

    out = open(opt.out, "a", buffering=1)

    def note(*words):
        out.write(" ".join(str(w) for w in words) + "\n")

    def send(msg):
        sys.stdout.write("\n" + json.dumps(msg) + "\n")
        sys.stdout.flush()

    def read_message():
        while True:
            line = sys.stdin.readline()
            if not line:
                return None
            if line.strip():
                return json.loads(line)

    def checkpoint(seq=None, sub=None):
        note("ckpt-req", seq if seq is not None else "-", sub if sub is not None else "-")
        send({"action": "checkpoint", "sequenceNumber": seq, "subSequenceNumber": sub})
        reply = read_message()
        if reply is None or reply.get("action") != "checkpoint":
            note("ckpt-error", "no-reply")
            sys.exit(3)
        if reply.get("error"):
            note("ckpt-error", reply["error"])
        else:
            note("ckpt-ok", reply["sequenceNumber"] if reply["sequenceNumber"] is not None else "-",
                 reply["subSequenceNumber"] if reply["subSequenceNumber"] is not None else "-")

    seen = 0
    note("pid", os.getpid(), os.getcwd(), os.environ.get("KLS_SAMPLE_TAG", "-"))
    while True:
        msg = read_message()
        if msg is None:
            note("exit")
            return 0
        action = msg["action"]
        if action == "initialize":
            note("init", msg["shardId"], msg["sequenceNumber"], msg["subSequenceNumber"])
            sys.stderr.write("sample-app: initialized %s\n" % msg["shardId"])
            for i in range(opt.stderr_lines):
                sys.stderr.write("sample-app: stderr line %d %s\n" % (i, "x" * 80))
            sys.stderr.flush()
            if opt.noise:
                print("a library talking on stdout")
                print(json.dumps({"level": "info", "msg": "a JSON log line without action"}))
                sys.stdout.flush()
        elif action == "processRecords":
            for r in msg["records"]:
                seen += 1
                if seen == opt.die_after:
                    os.kill(os.getpid(), signal.SIGKILL)
                if seen == opt.hang_after:
                    while True:
                        time.sleep(60)
                if seen == opt.bad_action_after:
                    send({"action": "chekpoint", "sequenceNumber": r["sequenceNumber"]})
                data = base64.b64decode(r["data"])
                note("rec", r["sequenceNumber"], r["subSequenceNumber"], r["partitionKey"],
                     data.hex(), r["approximateArrivalTimestamp"])
                if opt.every and seen % opt.every == 0:
                    checkpoint(r["sequenceNumber"], r["subSequenceNumber"])
            if opt.batch_end:
                checkpoint()
        elif action == "leaseLost":
            note("leaseLost")
            if opt.ckpt_on_lost:
                checkpoint()
        elif action == "shardEnded":
            note("shardEnded")
            checkpoint()
        elif action == "shutdownRequested":
            note("shutdownRequested")
            checkpoint()
        else:
            sys.stderr.write("sample-app: unknown action %s\n" % action)
            return 2
        send({"action": "status", "responseFor": action})


if __name__ == "__main__":
    sys.exit(main())
