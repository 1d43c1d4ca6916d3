"""``python -m peach_lite ...``: see :mod:`peach_lite.cli`."""
from peach_lite.cli import main

if __name__ == "__main__":
    main()
