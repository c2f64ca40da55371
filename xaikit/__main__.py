from xaikit.cli.main import main

main()
