from dosecheck.cli import main

main()
