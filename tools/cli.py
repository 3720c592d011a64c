"""What every tool's command line shares: numeric flags held to finite bounds, and every failure it expects as
one line with its exit status (2 bad input, 1 an I/O failure or a folder in use, 130/143 after Ctrl-C/SIGTERM)."""
import sys

from runs import stops
from runs.errors import status_and_line


def check_bounds(parser, args, bounds):
    """Each numeric flag of bounds {name: (low, high)} within its range, both ends included (nan and inf never)."""
    for name, (low, high) in bounds.items():
        value = getattr(args, name)
        if value is not None and not low <= value <= high:
            parser.error(f"argument --{name}: must lie in [{low:g}, {high:g}], got {value}")


def run_tool(main, argv, prog, interrupted="nothing was changed", expected=()):
    """main(argv) with SIGTERM interrupting as Ctrl-C does; an expected failure (a run folder's error, an I/O
    failure, the exception types in expected) is one line on stderr and its status."""
    stops.keep_interrupts()
    with stops.sigterm_interrupts():
        try:
            return main(argv)
        except KeyboardInterrupt as err:
            print(f"\n{prog}: interrupted; {interrupted}", file=sys.stderr)
            return stops.exit_status(err)
        except expected as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        except Exception as err:
            known = status_and_line(err)
            if known is None:
                raise
            print(known[1], file=sys.stderr)
            return known[0]
