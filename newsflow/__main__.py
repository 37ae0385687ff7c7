from newsflow.cli.main import main

main()
