from alakazam.cli import main

raise SystemExit(main())
