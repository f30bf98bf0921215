import sys

from chalicelib.local.runner import main

sys.exit(main())
