from ganflow.cli import main

main(prog_name="ganflow")
