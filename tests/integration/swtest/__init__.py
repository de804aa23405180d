"""Support code for the Spendwall black-box integration tests.

- `client`: HTTP/SSE clients over http.client and raw sockets.
- `certs`: a throwaway CA and server certificate made with the openssl CLI.
- `config`: test configs (YAML text from Python dicts) and the keys they use.
- `process`: running the real `spendwall` binary and reading its listening line.
- `metrics`: Prometheus text parsing for metric deltas.
- `apis`: per-endpoint request bodies and response readers.
- `load`: concurrent clients, what each saw of its request, ledger records in bulk.
- `canned`: a one-answer upstream, for provider bodies the fake cannot shape.
"""

import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[2]
FAKES_DIR = TESTS_DIR / "fakes"
if str(FAKES_DIR) not in sys.path:
    sys.path.insert(0, str(FAKES_DIR))
