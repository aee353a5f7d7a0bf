from synthgov.cli import main

main()
