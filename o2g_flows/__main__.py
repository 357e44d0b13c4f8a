import sys

from o2g_flows.cli import main

sys.exit(main())
