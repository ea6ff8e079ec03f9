"""``python -m rapidicom`` and the ``rapidicom`` console script."""
import sys

from rapidicom.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
