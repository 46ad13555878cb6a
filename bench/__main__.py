from bench.run import main
from rollup_host import cli

cli.run(main)
