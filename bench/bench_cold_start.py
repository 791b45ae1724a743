"""``make bench`` entry for the cold-start figures (see ``bench/cold_start.py``)."""

from bench.cold_start import main

if __name__ == "__main__":
    main()
