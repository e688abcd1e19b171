from ocs.cli import main

raise SystemExit(main())
