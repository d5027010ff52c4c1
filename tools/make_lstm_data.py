"""Converts ADBench's LSTM input (data/lstm/lstm_l<L>_c<C>.txt: a header
`l c b`, then 2l rows of 4b main parameters, 3 rows of b extra parameters,
2l rows of b state, c rows of b characters, blank lines between blocks)
into the CSV files examples/lstm/lstm.bp reads.

usage: python3 tools/make_lstm_data.py ADBENCH_FILE OUT_DIR
"""
import os
import sys


def main():
    src, out = sys.argv[1], sys.argv[2]
    rows = [line.split() for line in open(src)]
    l, c, b = map(int, rows[0])
    rows = [r for r in rows[1:] if r]
    blocks = {
        "main_params.csv": rows[0:2 * l],  # per layer: 4b weights, 4b biases
        "extra_params.csv": rows[2 * l:2 * l + 3],
        "state.csv": rows[2 * l + 3:4 * l + 3],
        "sequence.csv": rows[4 * l + 3:4 * l + 3 + c],
    }
    assert len(blocks["sequence.csv"]) == c, "short file"
    os.makedirs(out, exist_ok=True)
    for name, block in blocks.items():
        with open(os.path.join(out, name), "w") as f:
            for r in block:
                f.write(",".join(r) + "\n")
    print("l=%d c=%d b=%d -> %s" % (l, c, b, out))


if __name__ == "__main__":
    main()
