"""Decodes a QR Code PNG with zxing-cpp, an independent reader, for the QRCode tests.

stdin: a PNG file. stdout: JSON list of the symbols found, each
{"format", "bytes": [ints], "text", "ec_level", "valid", "extra"}.
"""
import io
import json
import sys

import zxingcpp
from PIL import Image


def main():
    image = Image.open(io.BytesIO(sys.stdin.buffer.read()))
    image.load()
    # Let Pillow read the PNG as it is stored, then hand zxing plain 8-bit luminance.
    symbols = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    json.dump(
        [
            {
                "format": str(symbol.format),
                "bytes": list(symbol.bytes),
                "text": symbol.text,
                "ec_level": symbol.ec_level,
                "valid": symbol.valid,
                "extra": symbol.extra,
                "image": {"mode": image.mode, "size": list(image.size)},
            }
            for symbol in symbols
        ],
        sys.stdout,
    )


if __name__ == "__main__":
    main()
