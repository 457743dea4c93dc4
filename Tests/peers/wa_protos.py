"""Imports neonize's generated WhatsApp protobuf modules without importing neonize itself
(its package __init__ loads a Go library the tests do not need)."""
import importlib.util
import os
import sys

_spec = importlib.util.find_spec("neonize")
if _spec is None or _spec.origin is None:
    raise SystemExit("neonize is not installed: run scripts/setup-test-env")
sys.path.insert(0, os.path.join(os.path.dirname(_spec.origin), "proto"))

from waAdv import WAAdv_pb2 as adv  # noqa: E402
from waCert import WACert_pb2 as cert  # noqa: E402
from waCompanionReg import WACompanionReg_pb2 as companion_reg  # noqa: E402
from waWa6 import WAWebProtobufsWa6_pb2 as wa6  # noqa: E402
from waE2E import WAWebProtobufsE2E_pb2 as e2e  # noqa: E402

__all__ = ["adv", "cert", "companion_reg", "e2e", "wa6"]
