from keysweep.cli import main

main()
