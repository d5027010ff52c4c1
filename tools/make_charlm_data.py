"""Makes examples/charlm/data/ from the GNU GPL version 3 as Debian ships it
(/usr/share/common-licenses/GPL-3, 35,149 bytes; its notice allows verbatim
copies, so GPL-3.txt in that folder is the file unchanged).

The text is lowercased and every run of whitespace becomes one space
(34,283 characters, 50 distinct). vocab.txt lists the characters in id
order, one per line as a JSON string. Each CSV row is a window: T = 16
character ids, then the id of the character that follows. Windows start
every 2 characters; the first 90% of the text gives train.csv, the rest
test.csv (no window crosses the boundary).

usage: python3 tools/make_charlm_data.py [GPL-3 PATH] [OUT_DIR]
"""
import json
import os
import re
import shutil
import sys

T = 16
STRIDE = 2


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/common-licenses/GPL-3"
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(__file__), "..", "examples", "charlm", "data")
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(src, os.path.join(out, "GPL-3.txt"))
    text = re.sub(r"\s+", " ", open(src).read().lower()).strip()
    vocab = sorted(set(text))
    ids = {c: i for i, c in enumerate(vocab)}
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        for c in vocab:
            f.write(json.dumps(c) + "\n")
    codes = [ids[c] for c in text]
    split = len(codes) * 9 // 10
    parts = {"train.csv": codes[:split], "test.csv": codes[split:]}
    for name, part in parts.items():
        rows = 0
        with open(os.path.join(out, name), "w") as f:
            for s in range(0, len(part) - T, STRIDE):
                f.write(",".join(map(str, part[s:s + T + 1])) + "\n")
                rows += 1
        print("%s: %d rows" % (name, rows))
    print("%d characters, vocabulary of %d" % (len(text), len(vocab)))


if __name__ == "__main__":
    main()
