from nbops.cli import main

main()
