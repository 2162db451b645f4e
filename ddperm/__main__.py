from ddperm.cli import main

main()
