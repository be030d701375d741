from rima.cli import main

main()
