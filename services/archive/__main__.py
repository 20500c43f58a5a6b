"""`python -m services.archive` starts the service; `python -m services.archive verify-chain [--station ID]` checks
the stations' hash chains (services/archive/audit.py) and exits 1 at a broken link."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "verify-chain":
    from .audit import verify_main

    sys.exit(verify_main(sys.argv[2:]))

from .app import SERVICE

SERVICE.main()
