from lakehouse.cli.app import main

main()
