"""Independent QR Code reference for the QRCode tests, built on segno (pure Python).

Commands (JSON on stdout):
  matrix <L|M|Q|H> <mask|auto> <version|auto>   stdin: the payload bytes, encoded in byte mode
        -> {"version", "mask", "rows": ["0101...", ...]}
  tables -> {"L": [[total codewords, data codewords, blocks], ...versions 1-40], ..., "alignment": [[...], ...]}
  rs <degree>   stdin: data codewords -> {"ec": [ints]}
  scores        stdin: JSON list of matrices (lists of "0101..." rows)
        -> [{"segno": [n1, n2, n3, n4], "n3_every_occurrence": int}, ...]

Two places where segno 1.6.6 departs from ISO/IEC 18004, both without effect on what a
reader decodes, are handled here so the comparison is with the standard's result:

* After the terminator, segno adds 8 zero bits when the stream already ends on a codeword
  boundary (§7.4.10 adds padding bits only when it does not), so its byte-mode data has a
  0x00 where the standard has the first 0xEC pad codeword. `write_padding_bits` is
  replaced with the standard rule; the rest of segno's encoder is used as it is.
* Its N3 penalty scan resumes after a counted 1011101 pattern and so misses one that starts
  on that pattern's last module (1011101011101 with light after: two occurrences, counted
  once). `n3_every_occurrence` counts every occurrence, as zxing does; N1, N2 and N4 are
  segno's.
"""
import json
import sys

import segno
from segno import consts, encoder

def _standard_padding_bits(buff, version, length):
    buff.extend([0] * ((8 - length % 8) % 8))


encoder.write_padding_bits = _standard_padding_bits

LEVELS = {"L": consts.ERROR_LEVEL_L, "M": consts.ERROR_LEVEL_M, "Q": consts.ERROR_LEVEL_Q, "H": consts.ERROR_LEVEL_H}


def matrix(level, mask, version):
    payload = sys.stdin.buffer.read()
    code = segno.make(
        payload,
        error=level.lower(),
        version=None if version == "auto" else int(version),
        mode="byte",
        mask=None if mask == "auto" else int(mask),
        micro=False,
        boost_error=False,
    )
    rows = ["".join("1" if module else "0" for module in row) for row in code.matrix]
    return {"version": code.version, "mask": code.mask, "rows": rows}


def tables():
    result = {}
    for name, level in LEVELS.items():
        result[name] = []
        for version in range(1, 41):
            infos = consts.ECC[version][level]
            total = sum(info.num_total * info.num_blocks for info in infos)
            data = sum(info.num_data * info.num_blocks for info in infos)
            blocks = sum(info.num_blocks for info in infos)
            result[name].append([total, data, blocks])
    result["alignment"] = [[]] + [list(positions) for positions in consts.ALIGNMENT_POS]
    return result


def reed_solomon(degree):
    data = sys.stdin.buffer.read()
    buffer = encoder.Buffer()
    for byte in data:
        buffer.append_bits(byte, 8)
    info = consts.EC(1, len(data) + degree, len(data))
    _, error_blocks = encoder.make_blocks([info], buffer)
    return {"ec": list(error_blocks[0])}


FINDER_LIKE = [1, 0, 1, 1, 1, 0, 1]


def n3_every_occurrence(grid):
    """40 for each 1011101 in a row or column with 4 light modules before or after it;
    beyond the symbol counts as light."""
    size = len(grid)
    lines = [list(row) for row in grid] + [[grid[y][x] for y in range(size)] for x in range(size)]

    def light(line, start, stop):
        return not any(line[i] for i in range(max(start, 0), min(stop, size)))

    score = 0
    for line in lines:
        for start in range(size - 6):
            if line[start:start + 7] == FINDER_LIKE and (light(line, start - 4, start) or light(line, start + 7, start + 11)):
                score += 40
    return score


def scores():
    matrices = json.load(sys.stdin)
    result = []
    for rows in matrices:
        grid = tuple(bytearray(int(c) for c in row) for row in rows)
        result.append({
            "segno": list(encoder.mask_scores(grid, len(grid), len(grid))),
            "n3_every_occurrence": n3_every_occurrence(grid),
        })
    return result


def main(argv):
    command = argv[1]
    if command == "matrix":
        output = matrix(*argv[2:5])
    elif command == "tables":
        output = tables()
    elif command == "rs":
        output = reed_solomon(int(argv[2]))
    elif command == "scores":
        output = scores()
    else:
        raise SystemExit(f"unknown command {command}")
    json.dump(output, sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
