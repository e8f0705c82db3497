from mpa_dist.cli import main

main()
