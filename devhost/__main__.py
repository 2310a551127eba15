"""`python -m devhost --app-dir DIR` (see devhost.cli)."""

from devhost.cli import main

raise SystemExit(main())
