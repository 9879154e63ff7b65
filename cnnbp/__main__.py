import sys

from cnnbp.cli import main

sys.exit(main())
