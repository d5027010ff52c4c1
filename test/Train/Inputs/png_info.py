"""Prints a PNG's size as `png WIDTHxHEIGHT, N bytes` (from its IHDR
chunk), or `not a png`."""
import struct
import sys

data = open(sys.argv[1], "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
    print("not a png")
else:
    w, h = struct.unpack(">II", data[16:24])
    print("png %dx%d, %d bytes" % (w, h, len(data)))
