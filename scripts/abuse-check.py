#!/usr/bin/env python3
"""Floods a running ihome-local from one address with solved captchas, asking for SMS codes, and
prints how many SMS were sent and how many requests were refused, by answer.

An attacker's best case: every captcha is solved (the local server echoes its answers to
captcha.jsonl, standing in for perfect OCR). Usage:
    abuse-check.py BASE_URL DATA_DIR --seconds 60 --threads 4 --mobiles fresh|200
"""
import argparse
import collections
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request


class Answers:
    """The captcha answers the server echoes, read as they are appended."""

    def __init__(self, path):
        self.path, self.offset, self.known, self.lock = path, 0, {}, threading.Lock()

    def text(self, image_id, wait=2.0):
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with self.lock:
                if image_id in self.known:
                    return self.known.pop(image_id)
                if os.path.exists(self.path):
                    with open(self.path, encoding="utf-8") as f:
                        f.seek(self.offset)
                        for line in f:
                            if not line.endswith("\n"):
                                break
                            self.offset += len(line.encode("utf-8"))
                            item = json.loads(line)
                            self.known[item["id"]] = item["text"]
            time.sleep(0.005)
        return None


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.headers.get("content-type", ""), r.read()


def errno_of(body):
    try:
        return json.loads(body).get("errno", "?")
    except ValueError:
        return "not json"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("data")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--mobiles", default="fresh", help="'fresh' (a new mobile per request) or a count to rotate")
    args = ap.parse_args()

    answers = Answers(os.path.join(args.data, "captcha.jsonl"))
    pool = None if args.mobiles == "fresh" else [f"139{random.randrange(10**8):08d}" for _ in range(int(args.mobiles))]
    outcomes = collections.Counter()
    lock = threading.Lock()
    stop = time.monotonic() + args.seconds

    def worker(n):
        i = 0
        while time.monotonic() < stop:
            i += 1
            image_id = f"abuse-{n}-{i}-{random.randrange(10**9)}"
            try:
                ctype, body = get(f"{args.base}/api/v1.0/imagecode/{image_id}")
                if not ctype.startswith("image/"):
                    with lock:
                        outcomes[f"captcha refused {errno_of(body)}"] += 1
                    time.sleep(0.05)
                    continue
                text = answers.text(image_id)
                if text is None:
                    with lock:
                        outcomes["captcha answer not echoed"] += 1
                    continue
                mobile = pool[i % len(pool)] if pool else f"138{random.randrange(10**8):08d}"
                _, body = get(f"{args.base}/api/v1.0/smscode/{mobile}?text={text}&id={image_id}")
                with lock:
                    outcomes[f"sms answer {errno_of(body)}"] += 1
            except (urllib.error.URLError, OSError) as e:
                with lock:
                    outcomes[f"error {type(e).__name__}"] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    outbox = os.path.join(args.data, "sms.jsonl")
    sent = sum(1 for _ in open(outbox, encoding="utf-8")) if os.path.exists(outbox) else 0
    print(f"  SMS sent (the outbox): {sent}")
    for what, n in sorted(outcomes.items()):
        print(f"  {what}: {n}")


if __name__ == "__main__":
    main()
