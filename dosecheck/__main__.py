import sys

from dosecheck.cli import main

sys.exit(main())
