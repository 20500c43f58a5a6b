"""Run a module under the test clock: `python -m tests.support.clocked services.intake [args...]`.

With `QS_TEST_CLOCK` set, the module runs under time-machine travel on the same virtual clock as the tests
(see tests/support/clock.py); without it, it runs as `python -m <module>` would.
"""

import runpy
import sys

from tests.support import clock


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m tests.support.clocked <module> [args...]")
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    clock.start()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
