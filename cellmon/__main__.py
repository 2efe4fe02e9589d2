from cellmon.cli import main

main()
