from agi.cli import main

main()
