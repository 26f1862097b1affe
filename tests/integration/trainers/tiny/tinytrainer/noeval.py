"""Trains like tinytrainer.quick, with no evaluation hook of its own."""

from tinytrainer.quick import main

if __name__ == "__main__":
    main()
