"""Speed targets: each ``bench/bench_*.py`` module has a ``main()``; ``python -m bench [filter]`` runs them."""
