"""pngplot.py - a line plot as a PNG with nothing but the standard library.

matplotlib is not on the machine and gnuplot would be one more package for
one picture, so this draws lines, markers, axes and labels itself (a 5x7
bitmap font, scaled) and writes the PNG with zlib.  Used by bench.py:

    plot_png(path, title, xlabel, ylabel, xs, series)

xs are the x values (plotted on a log2 axis, labelled as given); series is
a list of (label, [y or None per x], (r, g, b)).
"""
import math
import struct
import zlib

# 5x7 glyphs, one string of 7 rows of 5 bits each.  Lowercase letters only
# (text is lowercased before drawing).
_FONT = {
    "0": "01110 10001 10011 10101 11001 10001 01110",
    "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111",
    "3": "11110 00001 00001 01110 00001 00001 11110",
    "4": "00010 00110 01010 10010 11111 00010 00010",
    "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110",
    "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110",
    "9": "01110 10001 10001 01111 00001 00010 01100",
    "a": "00000 00000 01110 00001 01111 10001 01111",
    "b": "10000 10000 10110 11001 10001 10001 11110",
    "c": "00000 00000 01110 10000 10000 10001 01110",
    "d": "00001 00001 01101 10011 10001 10001 01111",
    "e": "00000 00000 01110 10001 11111 10000 01110",
    "f": "00110 01001 01000 11100 01000 01000 01000",
    "g": "00000 01111 10001 10001 01111 00001 01110",
    "h": "10000 10000 10110 11001 10001 10001 10001",
    "i": "00100 00000 01100 00100 00100 00100 01110",
    "j": "00010 00000 00110 00010 00010 10010 01100",
    "k": "10000 10000 10010 10100 11000 10100 10010",
    "l": "01100 00100 00100 00100 00100 00100 01110",
    "m": "00000 00000 11010 10101 10101 10001 10001",
    "n": "00000 00000 10110 11001 10001 10001 10001",
    "o": "00000 00000 01110 10001 10001 10001 01110",
    "p": "00000 00000 11110 10001 11110 10000 10000",
    "q": "00000 00000 01101 10011 01111 00001 00001",
    "r": "00000 00000 10110 11001 10000 10000 10000",
    "s": "00000 00000 01110 10000 01110 00001 11110",
    "t": "01000 01000 11100 01000 01000 01001 00110",
    "u": "00000 00000 10001 10001 10001 10011 01101",
    "v": "00000 00000 10001 10001 10001 01010 00100",
    "w": "00000 00000 10001 10001 10101 10101 01010",
    "x": "00000 00000 10001 01010 00100 01010 10001",
    "y": "00000 00000 10001 10001 01111 00001 01110",
    "z": "00000 00000 11111 00010 00100 01000 11111",
    ".": "00000 00000 00000 00000 00000 01100 01100",
    ",": "00000 00000 00000 00000 01100 00100 01000",
    "-": "00000 00000 00000 11111 00000 00000 00000",
    "+": "00000 00100 00100 11111 00100 00100 00000",
    "/": "00001 00010 00010 00100 01000 01000 10000",
    "(": "00010 00100 01000 01000 01000 00100 00010",
    ")": "01000 00100 00010 00010 00010 00100 01000",
    ":": "00000 01100 01100 00000 01100 01100 00000",
    "=": "00000 00000 11111 00000 11111 00000 00000",
    " ": "00000 00000 00000 00000 00000 00000 00000",
}


class Canvas:
    def __init__(self, w, h, bg=(255, 255, 255)):
        self.w, self.h = w, h
        self.px = bytearray(bytes(bg) * (w * h))

    def set(self, x, y, c):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i:i + 3] = bytes(c)

    def rect(self, x0, y0, x1, y1, c):
        for y in range(max(0, y0), min(self.h, y1 + 1)):
            for x in range(max(0, x0), min(self.w, x1 + 1)):
                self.set(x, y, c)

    def line(self, x0, y0, x1, y1, c, width=1):
        dx, dy = x1 - x0, y1 - y0
        n = max(abs(dx), abs(dy), 1)
        r = width // 2
        for i in range(n + 1):
            x = round(x0 + dx * i / n)
            y = round(y0 + dy * i / n)
            self.rect(x - r, y - r, x + r, y + r, c)

    def text(self, x, y, s, c=(0, 0, 0), scale=2):
        for ch in s.lower():
            g = _FONT.get(ch, _FONT[" "])
            for row, bits in enumerate(g.split()):
                for col, b in enumerate(bits):
                    if b == "1":
                        self.rect(x + col * scale, y + row * scale,
                                  x + col * scale + scale - 1,
                                  y + row * scale + scale - 1, c)
            x += 6 * scale
        return x

    @staticmethod
    def text_width(s, scale=2):
        return len(s) * 6 * scale

    def png(self):
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3])
                       for y in range(self.h))

        def chunk(kind, data):
            return (struct.pack(">I", len(data)) + kind + data +
                    struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
        return (b"\x89PNG\r\n\x1a\n" +
                chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def _nice_step(span):
    raw = span / 5
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def plot_png(path, title, xlabel, ylabel, xs, series, w=900, h=560):
    cv = Canvas(w, h)
    left, right, top, bottom = 90, 260, 50, 70
    pw, ph = w - left - right, h - top - bottom
    ymax = max([y for _, ys, _ in series for y in ys if y is not None] + [0.1])
    step = _nice_step(ymax * 1.05)
    ytop = step * math.ceil(ymax * 1.05 / step)
    lx = [math.log2(x) for x in xs]
    x0, x1 = min(lx), max(lx)
    if x1 == x0:
        x1 = x0 + 1
    pad = (x1 - x0) * 0.06

    def px(x):
        return left + round((math.log2(x) - x0 + pad) / (x1 - x0 + 2 * pad) * pw)

    def py(y):
        return top + ph - round(y / ytop * ph)

    grid, axis = (225, 225, 225), (60, 60, 60)
    v = 0.0
    while v <= ytop + 1e-9:
        yy = py(v)
        cv.line(left, yy, left + pw, yy, grid)
        lab = ("%g" % round(v, 3))
        cv.text(left - 10 - cv.text_width(lab), yy - 7, lab, axis)
        v += step
    for x in xs:
        xx = px(x)
        cv.line(xx, top, xx, top + ph, grid)
        lab = str(x)
        cv.text(xx - cv.text_width(lab) // 2, top + ph + 10, lab, axis)
    cv.line(left, top, left, top + ph, axis, 2)
    cv.line(left, top + ph, left + pw, top + ph, axis, 2)
    cv.text(left + (pw - cv.text_width(title)) // 2, 15, title, (0, 0, 0))
    cv.text(left + (pw - cv.text_width(xlabel)) // 2, h - 30, xlabel, axis)
    cv.text(10, top - 30, ylabel, axis)
    ly = top + 10
    for label, ys, color in series:
        pts = [(px(x), py(y)) for x, y in zip(xs, ys) if y is not None]
        for a, b in zip(pts, pts[1:]):
            cv.line(a[0], a[1], b[0], b[1], color, 3)
        for p in pts:
            cv.rect(p[0] - 4, p[1] - 4, p[0] + 4, p[1] + 4, color)
        cv.line(left + pw + 20, ly + 6, left + pw + 50, ly + 6, color, 3)
        cv.text(left + pw + 58, ly, label, (0, 0, 0))
        ly += 26
    with open(path, "wb") as f:
        f.write(cv.png())
