"""``python -m p2c``: the same as the ``p2c`` command."""

from p2c.cli import main

if __name__ == "__main__":
    main()
