"""`python -m rpcopy_cli`: the same as the `rpcopy` console script."""

from rpcopy_cli.app import main

main()
