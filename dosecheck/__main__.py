from dosecheck.entry import run

run()
