"""decode.py: reads the character ids examples/charlm/charlm.bp's main
prints (one per line) on stdin and writes them as text, using the
vocabulary of data/vocab.txt (one JSON string per line, in id order).

usage: bpc run examples/charlm/charlm.bp --load charlm.params |
         python3 examples/charlm/decode.py
"""
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "data", "vocab.txt")) as f:
    vocab = [json.loads(line) for line in f]
ids = [int(tok) for line in sys.stdin for tok in line.split()]
bad = [i for i in ids if not 0 <= i < len(vocab)]
if bad:
    sys.exit("decode.py: id %d is not in the vocabulary of %d characters"
             % (bad[0], len(vocab)))
print("".join(vocab[i] for i in ids))
