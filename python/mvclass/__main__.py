import sys

from mvclass.cli import main

sys.exit(main())
