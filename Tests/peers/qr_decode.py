"""Decodes a QR Code PNG with zxing-cpp, an independent reader, for the QRCode tests.

stdin: a PNG file. stdout: JSON list of the symbols found, each
{"format", "bytes": [ints], "text", "ec_level", "valid", "version", "mask", "unused_error_correction"}.

Inverted (light on dark) symbols are not tried, so a polarity mistake fails. zxing corrects
errors silently; "unused_error_correction" is 1.0 only when it had none to correct.
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
    symbols = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode, try_invert=False)
    json.dump(
        [
            {
                "format": str(symbol.format),
                "bytes": list(symbol.bytes),
                "text": symbol.text,
                "ec_level": symbol.ec_level,
                "valid": symbol.valid,
                "version": symbol.extra.get("Version"),
                "mask": symbol.extra.get("DataMask"),
                "unused_error_correction": symbol.extra.get("UEC"),
            }
            for symbol in symbols
        ],
        sys.stdout,
    )


if __name__ == "__main__":
    main()
