from keysweep.launcher import main

main()
