#!/usr/bin/env python3
"""Makes the training corpus of the trained tiny models from the King James Version of the Bible as Debian's
`bible-kjv-text` package ships it (read through its `bible` program from the `bible-kjv` package):

    apt-get install bible-kjv bible-kjv-text
    python3 golden/train/make_corpus.py golden/train/data

Licence: the KJV text is public domain (the package's copyright file: "The copyright for the King James Version
text of the Bible is expired"; translation of 1611), so weights trained on it can be shipped with the project.

Cleaning: every verse loses its reference ("Ge1:1 "), runs of white space become one space; the verses of a
chapter are one line each, chapters are separated by one empty line. The fixed held-out validation split is
every 48th chapter (chapter index % 48 == 24 in canonical order, 25 chapters, ~90 KB): they are written to
valid.txt and never to train.txt. Writes OUT/train.txt and OUT/valid.txt; deterministic (prints sizes).
"""
import os
import re
import subprocess
import sys


def chapters():
    raw = subprocess.run(["bible", "-f", "gen1:1-rev22:21"], check=True, capture_output=True, text=True).stdout
    current, verses = None, []
    for line in raw.splitlines():
        m = re.match(r"^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$", line)
        if not m:
            raise SystemExit("make_corpus.py: unexpected line from `bible`: %r" % line[:80])
        key = (m.group(1), m.group(2))
        if key != current and verses:
            yield verses
            verses = []
        current = key
        verses.append(" ".join(m.group(4).split()))
    if verses:
        yield verses


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    os.makedirs(out, exist_ok=True)
    train, valid = [], []
    for i, verses in enumerate(chapters()):
        (valid if i % 48 == 24 else train).append("\n".join(verses))
    assert len(train) + len(valid) == 1189, len(train) + len(valid)
    for name, parts in (("train.txt", train), ("valid.txt", valid)):
        text = "\n\n".join(parts) + "\n"
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.write(text)
        print("%s: %d chapters, %d bytes" % (os.path.join(out, name), len(parts), len(text.encode())))


if __name__ == "__main__":
    main()
