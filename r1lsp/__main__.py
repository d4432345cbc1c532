from r1lsp.cli import main

raise SystemExit(main())
